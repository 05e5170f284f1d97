"""The debug toolbar of `make run` (local settings only), keeping the project's Server-Timing.

The toolbar sets the Server-Timing header to its own panels' entries, replacing the ones the
project's middleware wrote (queries per alias, cache hits, the read route; shopsite.db.timing).
This middleware is the toolbar's, with the project's entries kept first and the toolbar's after.
"""

from __future__ import annotations

from debug_toolbar.middleware import DebugToolbarMiddleware


class ServerTimingKeepingToolbarMiddleware(DebugToolbarMiddleware):
    def _postprocess(self, request, response, toolbar):
        ours = response.get("Server-Timing")
        response = super()._postprocess(request, response, toolbar)
        theirs = response.get("Server-Timing")
        if ours and theirs != ours:
            response["Server-Timing"] = f"{ours}, {theirs}" if theirs else ours
        return response
