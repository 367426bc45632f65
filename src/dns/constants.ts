// DNS wire constants (RFC 1035 4.1.1, RFC 6891). Header layout:
//   0-1 ID | 2 QR OPCODE(4) AA TC RD | 3 RA Z AD CD RCODE(4) | 4 QDCOUNT | 6 ANCOUNT | 8 NSCOUNT | 10 ARCOUNT
export const HEADER_SIZE = 12;
export const MAX_NAME_WIRE_LENGTH = 255;
export const MAX_TCP_MESSAGE = 65535;
/** What we advertise and accept from clients at most over UDP (DNS flag day 2020). */
export const OUR_EDNS_PAYLOAD = 1232;

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;
export const OPCODE_QUERY = 0;
export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, HINFO: 13, MX: 15, TXT: 16, AAAA: 28, SRV: 33, DNAME: 39, OPT: 41, RRSIG: 46, IXFR: 251, AXFR: 252, ANY: 255, CAA: 257 } as const;
export const CLASS_IN = 1;
export const CLASS_CH = 3;

// Byte 2 flags
export const FLAG_QR = 0x80;
export const FLAG_AA = 0x04;
export const FLAG_TC = 0x02;
export const FLAG_RD = 0x01;
// Byte 3 flags
export const FLAG_RA = 0x80;
export const FLAG_Z = 0x40;
export const FLAG_AD = 0x20;
export const FLAG_CD = 0x10;

/** DO bit inside the OPT record's TTL field (RFC 3225): bit 15 of the flags half. */
export const EDNS_DO_BIT = 0x8000;
/** Size of an OPT record without options: root owner, TYPE, CLASS (payload), TTL (ext. rcode, version, flags), RDLENGTH. */
export const OPT_RR_SIZE = 11;
