"""The pages people see: a student's question and quiz pages, an instructor's course page."""
