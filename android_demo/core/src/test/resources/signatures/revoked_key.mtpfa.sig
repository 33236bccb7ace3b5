{
  "format": "mtpf-adapter-signature",
  "version": 1,
  "key_id": "d5af76a01c64d22f9fa09459735a613cd13030a271a3e2e9d13d3ec32db7b04d",
  "payload_type": "application/vnd.mtpf.adapter-statement+json",
  "payload": "{\"adapter_sha256\":\"67fbc053dc7f039aa732e349b5eac4e1bc6ff4cb7d93de98ea4628a8f488a696\",\"backbone_sha256\":\"3d30af87179d5fabf61bf750c0dadb79b6c17dfaca8e63c80f1ed06a2323f35f\",\"name\":\"ner\",\"signed_at\":\"2026-12-02T00:00:00Z\",\"signer\":\"retired\",\"task\":\"ner\",\"tool\":\"mtpf-deploy test fixtures\"}",
  "signature": "304502206ec7577c9f2b997ac4fcdf95ac3aba1c3b2047b7250c7b36b2ce36be187782200221008856c00137e004205292d4c378c5cdbfca0e343b258ecbada3922a250d79b2bb"
}
