"""A finished run reading hand signs in photos: the commands predict, robustness (under
tfsigns.images.shifts) and calibrate (a new hand taught from a few photos), and the live page
(serve, page.html), each behind its `python -m tfsigns.<command>`."""
