"""Leaderboards: aggregation over seeds, statistics, rendering and plots of run stores."""
