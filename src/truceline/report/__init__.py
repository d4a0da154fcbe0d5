"""Reports: the daily report (HTML, Markdown, PDF) with its charts and map; exports live beside it."""
