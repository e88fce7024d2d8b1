"""The LLM call engine of every paid call: models under test behind an API, judges, teachers, reasoning scores.

`client.LLMClient` makes exactly one chat request (the direct HTTP path for OpenAI-compatible servers, litellm for
other providers) and returns the one answer record, `xraybench.records.Generation`; `meter.Meter` is the one
request path around it (rate limit, budget cap, cost ledger); `calls.CallRunner` runs many keyed calls against the
append-only `xraybench.callstore.CallStore` with leases, retries and one re-ask; `governance.check_governance`
refuses credentialed data for remote providers before any call. The `openai:` and `litellm:` model adapters are
request builders on the client and the meter. Importing this package stays light: litellm and httpx are
imported on first use.
"""
