"""Questions from other systems (Moodle XML, GIFT, QTI) and the bank's quick questions for them.

`formats` holds the registry and the entry points (`import_data`, `import_paths`,
`export_questions`); one module per format; `base` and `text` what they share.
"""
