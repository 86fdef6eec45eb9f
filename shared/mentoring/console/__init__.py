"""The EDI team's console: signed-in pages over the same domain functions as the JSON API.

``session`` checks who is signed in (tokens verified against the user pool's keys), ``access``
says what their role lets them see and do, ``views`` gathers what each page shows, and ``pages``
renders it with Jinja2's autoescaping templates (``mentoring/templates/console``).
"""
