"""Dashboards as code: the specs in dashboards/ (docs/dashboards.md), run and rendered.

    from pulse.dashboards import load_dashboards
    for dashboard in load_dashboards():
        for card in dashboard.cards:
            card.title, card.description, card.sql, card.visualization, card.fields, card.filters
"""

from pulse.dashboards.spec import Card, Dashboard, SpecError, bind, load_dashboards

__all__ = ["Card", "Dashboard", "SpecError", "bind", "load_dashboards"]
