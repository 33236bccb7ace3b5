{
  "format": "mtpf-adapter-signature",
  "version": 1,
  "key_id": "a3decc71f245aeb32cf4ce7c3e490c0266a3e42d53e7fb3b1bc04b294f95c31f",
  "payload_type": "application/vnd.mtpf.adapter-statement+json",
  "payload": "{\"adapter_sha256\":\"67fbc053dc7f039aa732e349b5eac4e1bc6ff4cb7d93de98ea4628a8f488a696\",\"backbone_sha256\":\"abababababababababababababababababababababababababababababababab\",\"name\":\"ner\",\"signed_at\":\"2026-12-02T00:00:00Z\",\"signer\":\"vendor\",\"task\":\"ner\",\"tool\":\"mtpf-deploy test fixtures\"}",
  "signature": "3045022067c688e743b3b08c3670964b0ea9146fa651f095c660f846e2fbfae23f910d70022100e29030c351bb88cad21b543b1dfbc296a06176f0175606d38f0a88a51f393ddb"
}
