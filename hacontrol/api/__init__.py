"""The REST API and /metrics: the console's actions and what it sees, for scripts and Prometheus.

A thin door over :mod:`hacontrol.ha.actions`, as the web views and the CLI are: serializers only
type the input and shape the output; every rule, and every refusal, is the actions'.
"""
