"""`assistant-cli doctor`: checks as data (id, title, detect, optional fix), run concurrently."""
