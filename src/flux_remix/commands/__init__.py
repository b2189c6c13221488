"""The bodies of the `flux-remix` commands; `flux_remix.cli` declares them and maps errors."""
