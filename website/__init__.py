"""The course website (make site): the executed notebooks as a student reads them."""
