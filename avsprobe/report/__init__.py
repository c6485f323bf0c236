"""Reports: every bias metric the runs support, models side by side, as tables and paper-ready figures."""
