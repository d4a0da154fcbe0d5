"""Free-text reports: gazetteer, geoparsing, time expressions, events and claims (de, en, uk, ru).

Entry points: :func:`truceline.text.geoparse.geoparse` / :func:`~truceline.text.geoparse.parse_location`
for places, :func:`truceline.text.reports.extract` for a whole report → observation records.
"""
