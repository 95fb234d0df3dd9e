"""The dashboard: server-rendered pages with interactive charts that work offline.

``router`` (a FastAPI ``APIRouter``) serves the login page, the overview, a page per team and
per model, GPU used / idle, insights, budgets and the planner, plus its own static files
(the vendored Chart.js, ``static/SOURCES.md``). The app includes it at ``/``. Every figure
comes from the library functions the CLI uses (showback statements, budget status, stored
findings, the planners); see docs/dashboard.md.
"""

from mlcost.server.dashboard._routes import router

__all__ = ["router"]
