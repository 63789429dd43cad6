"""The web page of ``app.py``: draw a digit and watch every layer answer,
read the numbers in a photo, try convolution on a picture.

:mod:`digitsuite.app.session` loads the models once; :mod:`digitsuite.app.views`
turns the suite's results (layer analysis, readings, the convolution demo)
into JSON for the page; :mod:`digitsuite.app.server` is the FastAPI
application; ``static/`` holds the page itself (HTML, CSS and one script,
nothing loaded from elsewhere).
"""
