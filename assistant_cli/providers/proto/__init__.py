"""Generated Open Inference Protocol v2 messages and stubs (see grpc_predict_v2.proto)."""
