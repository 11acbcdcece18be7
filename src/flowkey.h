/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow keys of DESIGN §3: the bidirectional 5-tuple inside any VLAN/QinQ
 * tags, for IPv4 and IPv6; addresses and protocol for packets without
 * ports; MAC pair and EtherType for non-IP frames. One parse and one hash
 * per packet; the parser never reads past the captured length.
 */
#ifndef FS_FLOWKEY_H
#define FS_FLOWKEY_H

#include <stddef.h>
#include <stdint.h>

enum fs_flow_kind {
	FS_FLOW_L2 = 2,		/* non-IP: MAC pair + EtherType */
	FS_FLOW_IP4 = 4,
	FS_FLOW_IP6 = 6,
};

/*
 * Canonical (direction-free) key: endpoint a is the smaller of the two by
 * (address, port), so both directions give the same key. 40 bytes with
 * no padding and every unused byte zero, so keys compare with memcmp and
 * hash as bytes.
 */
struct fs_flow_key {
	uint8_t a[16];		/* IPv4: first 4 bytes; L2: MAC in first 6 */
	uint8_t b[16];
	uint16_t port_a;	/* host order; 0 when the protocol has none */
	uint16_t port_b;
	uint16_t ethertype;	/* 0x0800, 0x86dd, or the L2 EtherType */
	uint8_t proto;		/* IP protocol number; 0 for L2 */
	uint8_t kind;		/* enum fs_flow_kind */
};

/* What one parse tells about a packet. */
struct fs_pkt_info {
	struct fs_flow_key key;
	uint32_t hash;		/* fs_flow_hash(&key) */
	uint8_t dir;		/* 0: the packet goes a -> b; 1: b -> a */
	uint8_t tcp_flags;	/* TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04,
				 * ACK 0x10); 0 when not TCP */
	uint8_t fragment;	/* 1 for an IP fragment that is not the first
				 * (its key has no ports) */
	uint8_t truncated;	/* headers cut by the capture length: the key
				 * holds what could be read */
	uint16_t vlan;		/* outer VLAN id, 0xffff when untagged */
	uint16_t l4_off;	/* offset of the transport header, 0 if none */
	/* IPv4 fragments: a tag of (addresses, protocol, IP id) shared by
	 * all fragments of one datagram, so that later fragments can be put
	 * in the flow of the first; 0 when not a fragment */
	uint32_t frag_tag;
	uint8_t frag_first;	/* 1: the first fragment (offset 0, MF set) */
	uint8_t pad[3];
};

#define FS_TCP_FIN 0x01
#define FS_TCP_SYN 0x02
#define FS_TCP_RST 0x04
#define FS_TCP_ACK 0x10

/*
 * Parse an Ethernet frame of caplen bytes into info. Walks 802.1Q/802.1ad
 * tags (0x8100, 0x88a8, 0x9100, any depth), IPv4 (options; fragments),
 * IPv6 (hop-by-hop, routing, fragment, destination options, AH extension
 * headers), and reads ports of TCP, UDP, UDP-Lite, SCTP and DCCP. ICMP,
 * ICMPv6, ESP and other protocols are keyed by addresses and protocol.
 * Frames too short for an IP header, non-IP frames and bad IP versions
 * get an L2 key. Never fails, never reads outside pkt[0, caplen).
 */
void fs_flow_parse(const uint8_t *pkt, uint32_t caplen,
		   struct fs_pkt_info *info);

/* Hash of a key (32 bits, well mixed; the same for both directions since
 * the key is canonical). */
uint32_t fs_flow_hash(const struct fs_flow_key *k);

/*
 * Text of a key for people and file names, e.g.
 * "tcp 10.0.0.1:1234 <> 10.0.0.2:80", "icmp6 fd00::1 <> fd00::2",
 * "l2 02:00:00:00:00:01 <> 02:00:00:00:00:02 type 0x88cc".
 * Returns what snprintf returns.
 */
int fs_flow_key_str(const struct fs_flow_key *k, char *buf, size_t len);

/*
 * Build a minimal Ethernet frame carrying k's headers in direction dir
 * (0: a -> b) into buf, so that a pcap filter can be run against a flow.
 * TCP gets flags tcp_flags. Returns the frame length, 0 if len is too
 * small (128 bytes always suffice).
 */
size_t fs_flow_synth(const struct fs_flow_key *k, uint8_t dir,
		     uint8_t tcp_flags, uint8_t *buf, size_t len);

#endif
