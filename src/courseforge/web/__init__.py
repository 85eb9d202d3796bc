"""The web UI: server-rendered pages for people in a browser, beside the JSON API.

`install_web` adds the pages, their static files and the CSRF check to the one app.
"""

from courseforge.web.setup import install_web

__all__ = ["install_web"]
