"""The Kubernetes runtime: a demo's objects built without a cluster, and the provider applying them.

Part 1 of the runtime: everything that goes into the cluster for one demo, as plain dicts. The
fence around a demo (`fence`: namespace, quota, limits, network policies) is ours and the same
for any blueprint; the demo itself is the blueprint's Helm chart rendered with the real
`helm template` (`chart`), with values computed here (hosts and TLS in `routes`, credentials in
`credentials`). `render.render_demo` puts them together and `redaction` hides secret values for
printing; `democtl render` is their dry run. `runtime` is the provider that applies them
(entry point `kubernetes`), through `cluster`, the only module that talks to a cluster.
"""
