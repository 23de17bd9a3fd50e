"""The page's views: the sidebar, Compare (the two panels) and Study."""
