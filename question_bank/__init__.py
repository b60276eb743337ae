"""The question bank: question types, the file format, and the bundled regularization curriculum."""
