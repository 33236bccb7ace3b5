{
  "format": "mtpf-adapter-signature",
  "version": 1,
  "key_id": "a3decc71f245aeb32cf4ce7c3e490c0266a3e42d53e7fb3b1bc04b294f95c31f",
  "payload_type": "application/vnd.mtpf.adapter-statement+json",
  "payload": "{\"adapter_sha256\":\"67fbc053dc7f039aa732e349b5eac4e1bc6ff4cb7d93de98ea4628a8f488a696\",\"backbone_sha256\":\"3d30af87179d5fabf61bf750c0dadb79b6c17dfaca8e63c80f1ed06a2323f35f\",\"name\":\"ner\",\"signed_at\":\"2026-12-02T00:00:00Z\",\"signer\":\"vendor\",\"task\":\"ner\",\"tool\":\"mtpf-deploy test fixtures\"}",
  "signature": "3046022100abebeb39b59f5b9f8a1e0583e5f021be58e86b8e86ddd2a165ec56026c58637f022100c6226b79c6dc53fadc159416b9efcc853dd4f4853ae52cd4daa73eff3ff94fc2"
}
