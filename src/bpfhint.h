/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a compiled pcap filter says about the flows it can accept, in a
 * form an index of stored packets can test: "every packet the filter
 * accepts has address A (and port P, protocol T), or is the 5-tuple F,
 * or is a non-IP frame of EtherType E". Reading history back uses it to
 * skip blocks none of whose flows can match, before running the filter
 * itself on what is left.
 *
 * The input is classic BPF as pcap_compile() makes it for DLT_EN10MB
 * (what pcap_setfilter() receives), not filter text. The analysis is
 * pure: no global state, no I/O, nothing but malloc.
 */
#ifndef FS_BPFHINT_H
#define FS_BPFHINT_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flowkey.h"

/* Most alternatives a hint holds; a filter needing more gets looser
 * alternatives first (protocols, then ports, then peers dropped) and is
 * "none" only if even addresses alone are too many. */
#define FS_BPF_HINT_MAX 64

/* fs_bpf_alt.flags */
#define FS_BPF_ALT_PEER (1u << 0)	/* the other address is peer */
#define FS_BPF_ALT_PORT (1u << 1)	/* port is set */
#define FS_BPF_ALT_TUPLE (1u << 2)	/* exact 5-tuple, see below */

/*
 * One alternative: a condition on one packet, by kind.
 *
 * FS_FLOW_IP4 / FS_FLOW_IP6 (the kinds of flowkey.h): the packet is IPv4
 * or IPv6 and has addr as its source or destination address. Further:
 *   FS_BPF_ALT_PEER   its other address is peer (addr <= peer bytewise);
 *   FS_BPF_ALT_PORT   it has port as its source or destination port,
 *                     on either side;
 *   FS_BPF_ALT_TUPLE  (PEER and PORT are set too) its two endpoints are
 *                     exactly (addr, port) and (peer, peer_port), in
 *                     either direction; (addr, port) <= (peer, peer_port)
 *                     by address, then port, as in a flow key;
 *   proto != 0        its IP protocol is proto (IPv6: the upper-layer
 *                     protocol after extension headers, as in a flow key).
 * Addresses are in network order, IPv4 in the first 4 bytes of addr and
 * peer, the rest zero.
 *
 * FS_FLOW_L2: the frame is not IP and its EtherType (inside any VLAN
 * tags, 0 for an 802.3 length) is ethertype; pcap's "host A" accepts ARP
 * and RARP frames that carry A, so it gives two of these.
 *
 * Every field the kind and flags do not use is zero, so alternatives
 * compare with memcmp.
 */
struct fs_bpf_alt {
	uint8_t kind;		/* FS_FLOW_IP4, FS_FLOW_IP6 or FS_FLOW_L2 */
	uint8_t flags;		/* FS_BPF_ALT_* */
	uint8_t proto;		/* IP protocol, 0: any */
	uint8_t pad;
	uint16_t port;		/* host order */
	uint16_t peer_port;	/* TUPLE: the port of peer's endpoint */
	uint16_t ethertype;	/* FS_FLOW_L2 only */
	uint16_t pad2;
	uint8_t addr[16];
	uint8_t peer[16];
};

/*
 * A necessary condition for a filter's acceptance: every packet it
 * accepts satisfies at least one of alt[0 .. n-1]. It may be looser than
 * the filter, never stricter.
 *   none = true:  nothing could be proved ("none"): any packet may match,
 *                 n is 0. Filters such as "tcp port 80", "net 10/8",
 *                 "not host A", "greater 100", "ether host M".
 *   none = false, n = 0: no packet can match (e.g. "ip and ip6").
 * Alternatives are sorted (memcmp) and none implies another.
 */
struct fs_bpf_hint {
	bool none;
	unsigned n;
	struct fs_bpf_alt alt[FS_BPF_HINT_MAX];
};

/*
 * Analyse the classic BPF program insns[0 .. n-1] and fill hint.
 * The program is walked along every path from the first instruction to
 * an accepting return, following what each test proves about frame
 * bytes (equal, masked equal, not equal) and where A, X and the scratch
 * memory come from (constants, absolute loads, loads behind an IPv4
 * header length); a value it cannot follow (packet length, arithmetic,
 * Linux special loads) just proves nothing. Frames are read as Ethernet
 * with 802.1Q/802.1ad/QinQ tags, as pcap_compile() lays them out. An
 * accepting path that proves neither an IP address nor a non-IP
 * EtherType, or a program with too many paths (over 2048 accepting or
 * 262144 instructions walked in all), make the hint "none".
 * No insns (n = 0) is the program that accepts everything: "none".
 * Returns 0 on success; -1 with errno EINVAL when the program is not
 * valid BPF (a jump or the end past the last instruction, an unknown
 * opcode, a scratch slot out of range) or ENOMEM; the hint is then
 * "none", so a caller ignoring the return value stays correct.
 */
int fs_bpf_hint(const struct bpf_insn *insns, unsigned n,
		struct fs_bpf_hint *hint);

/*
 * Whether a flow, given by its key (flowkey.h), can hold a packet the
 * hint's filter accepts. True for a "none" hint. Since a key is coarser
 * than the bytes the filter saw, the test is conservative where the flow
 * parser gives up: an L2 key of an IP EtherType (a malformed or cut IP
 * header) matches any IP alternative, a key without ports (cut before
 * them) meets any port condition, an IPv6 key whose protocol is an
 * extension header (the walk stopped there) meets any protocol.
 */
bool fs_bpf_hint_match(const struct fs_bpf_hint *h,
		       const struct fs_flow_key *k);

/*
 * Text of a hint for logs and tests: alternatives separated by " | ",
 * e.g. "10.0.0.1 port 80 proto 6 | ethertype 0x0806",
 * "10.0.0.1:1 <> 10.0.0.2:2 proto 6", "[fd00::1]:53 <> [fd00::2]:9 proto 17",
 * "fd00::1 <> fd00::2"; "none" for none, "nothing" for n = 0.
 * Returns what snprintf returns (the length the whole text needs).
 */
int fs_bpf_hint_str(const struct fs_bpf_hint *h, char *buf, size_t len);

#endif
