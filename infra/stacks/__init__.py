"""The deployable stacks; each wires constructs from ``infra`` together and grants access."""
