"""``schemashift serve``: the contract and readiness gates, the deployment registry, the
status document, Prometheus metrics and a live status page over HTTP (docs/serve.md).

- ``gate``: the decisions, shared with the command line (no web framework);
- ``app``: the Starlette application (routes, token, body limits, JSON errors);
- ``metrics``: the Prometheus collector; ``page``: the status page (one HTML file).

Only ``app`` and ``metrics`` import the optional ``[server]`` extra.
"""
