"""platykus-lab: the real upstream Kubernetes control plane with simulated nodes, offline."""
