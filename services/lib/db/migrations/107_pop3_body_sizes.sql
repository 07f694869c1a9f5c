-- What a body measures on the POP3 wire (RFC 1939 11: LIST and STAT count CRLF line ends): its
-- stored size plus one octet per bare LF. Bodies never change, so POP3 computes it once per body
-- (reading it) the first time a session opens a maildrop holding it, and every replica reuses it.
CREATE TABLE pop3_body_sizes (
  body_id  bigint PRIMARY KEY REFERENCES message_bodies (id) ON DELETE CASCADE,
  size     bigint NOT NULL
);
