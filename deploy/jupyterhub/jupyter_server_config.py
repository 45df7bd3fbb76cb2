"""Jupyter server settings for every user of a JupyterHub that runs the course.

The hub's single-user server sends ``Content-Security-Policy: frame-ancestors 'none'``
with every page, so that no page of the hub's origin can frame another user's server
(every user's server shares that origin). JupyterLab's Nbgrader → Formgrader opens
Formgrader in a frame of the instructor's own JupyterLab, which that header refuses: a
blank tab (nbgrader#1870). Here Formgrader's pages, and only they, may be framed by
the same origin when the request comes from a page of this very server (its Referer
is under this server's own base URL, e.g. ``/user/instructor/``): a page of another
user's server (``/user/alice/...``), or one that sends no Referer, still gets
``'none'``. The rest of the server keeps the hub's header. tests/test_hub.py clicks the
menu in Chromium and checks both answers.
"""

from urllib.parse import urlsplit

c = get_config()  # noqa: F821  (Jupyter provides get_config)

try:
    from nbgrader.server_extensions.formgrader.base import BaseHandler
except ImportError:  # no nbgrader here: no Formgrader to frame
    BaseHandler = None

if BaseHandler is not None and not getattr(BaseHandler, "course_frame_rule", False):
    hubs_policy = BaseHandler.content_security_policy

    def _framed_by_this_server(self) -> str:
        policy = hubs_policy.fget(self)
        referer = urlsplit(self.request.headers.get("Referer", ""))
        own = (referer.scheme in ("http", "https") and referer.netloc == self.request.host
               and referer.path.startswith(self.base_url))
        if own:
            policy = policy.replace("frame-ancestors 'none'", "frame-ancestors 'self'")
        return policy

    BaseHandler.content_security_policy = property(_framed_by_this_server)
    BaseHandler.course_frame_rule = True
