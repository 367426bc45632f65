#!/usr/bin/env python3
# Sends UDP datagrams with a hand-written IPv4 + UDP header (raw socket, IP_HDRINCL), so the source
# port can be anything the kernel would never pick, e.g. 0. Needs CAP_NET_RAW (root).
# usage: raw-udp.py SRC_IP SRC_PORT DST_IP DST_PORT PAYLOAD_HEX [COUNT]
# Tests use it on loopback only.
import socket
import struct
import sys


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def datagram(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
    udp_len = 8 + len(payload)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, socket.IPPROTO_UDP, udp_len)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + payload
    udp_sum = checksum(pseudo + udp) or 0xFFFF
    udp = struct.pack("!HHHH", sport, dport, udp_len, udp_sum) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0x1234, 0, 64, socket.IPPROTO_UDP, 0, socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + udp


def main() -> None:
    src, sport, dst, dport, payload_hex = sys.argv[1:6]
    count = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    if not (dst.startswith("127.") and src.startswith("127.")):
        sys.exit("raw-udp.py: loopback addresses only")
    packet = datagram(src, int(sport), dst, int(dport), bytes.fromhex(payload_hex))
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as s:
        for _ in range(count):
            s.sendto(packet, (dst, 0))


if __name__ == "__main__":
    main()
