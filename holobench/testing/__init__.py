"""Support for tests and benchmarks, not used by the pipeline: a loopback OpenAI-compatible
server (:mod:`holobench.testing.fake_server`) that real HTTP clients talk to."""
