"""The LLM call engine shared by the arena (judges) and the trainer (teachers): one client, one call runner.

`client.LLMClient` makes exactly one chat request; `calls.CallRunner` runs many keyed calls against the
append-only `xraybench.callstore.CallStore` with leases, a rate limit, a budget cap, retries and one re-ask;
`governance.check_governance` refuses credentialed data for remote providers before any call. Importing this
package stays light: litellm and httpx are imported on first use.
"""
