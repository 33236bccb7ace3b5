{
  "format": "mtpf-adapter-signature",
  "version": 1,
  "key_id": "a3decc71f245aeb32cf4ce7c3e490c0266a3e42d53e7fb3b1bc04b294f95c31f",
  "payload_type": "application/vnd.mtpf.adapter-statement+json",
  "payload": "{\"adapter_sha256\":\"67fbc053dc7f039aa732e349b5eac4e1bc6ff4cb7d93de98ea4628a8f488a696\",\"backbone_sha256\":\"3d30af87179d5fabf61bf750c0dadb79b6c17dfaca8e63c80f1ed06a2323f35f\",\"name\":\"bank\",\"signed_at\":\"2026-12-02T00:00:00Z\",\"signer\":\"vendor\",\"task\":\"ner\",\"tool\":\"mtpf-deploy test fixtures\"}",
  "signature": "3044022007849fa6e51e5d2f04ba5563fdbd29fc4c310464f72db001adca8dcfe7da4bce0220203768e0ae170c7a45ee2290bb79766f7a6ae84571be0707649b5619f95b00df"
}
