"""End to end: real app servers, a browser, replicas, a load balancer."""
