{
  "format": "mtpf-adapter-signature",
  "version": 1,
  "key_id": "4237d03e1f96cee0927f43e931b6c24d184c98e58cb5cc492b6f9876e64137a8",
  "payload_type": "application/vnd.mtpf.adapter-statement+json",
  "payload": "{\"adapter_sha256\":\"67fbc053dc7f039aa732e349b5eac4e1bc6ff4cb7d93de98ea4628a8f488a696\",\"backbone_sha256\":\"3d30af87179d5fabf61bf750c0dadb79b6c17dfaca8e63c80f1ed06a2323f35f\",\"name\":\"ner\",\"signed_at\":\"2026-12-02T00:00:00Z\",\"signer\":\"stranger\",\"task\":\"ner\",\"tool\":\"mtpf-deploy test fixtures\"}",
  "signature": "304502201770b0033749bd7960ead1b081c69da0551af27d80f892eb4b9bcb2d5c09bf30022100b5a76d9ea9b37ef52b58b643a9b747bc23b87ef66685c1d37956cd65417c5d6b"
}
