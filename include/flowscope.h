/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libflowscope: the capture engine behind flowscope: device names. A
 * capture opens its sources through DPDK, records every packet into the
 * QQ ring from background receive threads, and hands batches of packets
 * to one consumer (the libpcap module). Handles are opaque.
 */
#ifndef FLOWSCOPE_H
#define FLOWSCOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fs_capture fs_capture;

/*
 * Where packets' timestamps come from (pcap_set_tstamp_type, tcpdump -j).
 * What each source offers is listed by fs_device_tstamp_types().
 */
enum fs_tstamp {
	FS_TSTAMP_DEFAULT,	/* unasked: a capture of dpdkN ports only
				 * takes the NIC's stamps when every port
				 * offers the same kind, everything else
				 * FS_TSTAMP_HOST */
	FS_TSTAMP_HOST,		/* the host's: the kernel's stamp of an
				 * interface, the receive thread's clock for
				 * a DPDK port, a file's or the generator's
				 * own */
	FS_TSTAMP_ADAPTER,	/* the NIC's, mapped onto host time */
	FS_TSTAMP_ADAPTER_UNSYNCED,	/* the NIC's, in the NIC's own time */
};
#define FS_TSTAMP_BIT(t) (1U << (t))

/* What the application asked for through the pcap API. */
struct fs_open_params {
	int snaplen;		/* bytes of each packet the application wants */
	int promisc;		/* non-zero: put interfaces in promiscuous mode */
	int immediate;		/* non-zero: wake the reader for every burst */
	int timeout_ms;		/* the application's buffering timeout */
	int buffer_size;	/* pcap_set_buffer_size() (tcpdump -B), bytes;
				 * 0: not set */
	unsigned flags;		/* FS_OPEN_* bits, 0: an application reads */
	enum fs_tstamp tstamp;	/* the timestamps asked for */
};

/*
 * fs_capture_open() flag: no application reads this capture (a recorder
 * such as flowscope-record). The ring, flow tracking, triggers, dump_dir
 * and the control socket work as usual, but nothing is staged for a
 * reader: no source waits for one (a file= replay goes as fast as the
 * analysis and dump_dir allow), no drop is counted against one, and in
 * trigger mode without dump_dir triggered flows are only marked.
 * fs_capture_read() then never returns packets; see there.
 */
#define FS_OPEN_NO_READER (1U << 0)

/* One delivered packet. data stays valid until the next fs_capture_read()
 * or fs_capture_close() on the same handle. */
struct fs_packet {
	uint64_t ts_ns;		/* nanoseconds since the epoch */
	uint32_t caplen;	/* bytes at data */
	uint32_t wirelen;	/* length on the wire */
	const uint8_t *data;
	unsigned source;	/* index of the source in the device name */
};

/* Counters of DESIGN §3 plus what the ring holds. */
struct fs_stats {
	uint64_t recv;		/* packets received from the sources */
	uint64_t drop;		/* lost inside flowscope before delivery */
	uint64_t ifdrop;	/* missed by the NIC or driver */
	uint64_t delivered;	/* handed to the application */
	uint64_t ring_pkts;	/* packets held in the ring now */
	uint64_t ring_bytes;	/* ring memory in use now */
	uint64_t ring_capacity;	/* ring memory in all */
	uint64_t history_ns;	/* age span of what the ring holds */
	uint64_t flows_active;	/* tracked now */
	uint64_t flows_triggered;	/* ever */
	uint64_t flows_ended;	/* ever */
	uint64_t untracked_packets;	/* of flows not tracked: table full or
				 * out of memory (still captured) */
	uint64_t history_lost;	/* triggered history already overwritten
				 * (included in drop) */
	uint64_t not_triggered;	/* trigger mode: received, but of flows no
				 * trigger selected (untracked ones too), so
				 * never delivered; 0 in live mode. recv =
				 * delivered + drop + not_triggered once
				 * everything received was analyzed */
	uint64_t cut_packets;	/* past their flow's cutoff: received and
				 * delivered live, never kept as history */
	uint64_t cut_bytes;
};

/* Returned by fs_capture_read() once every source has ended and all was
 * delivered (file replay done, generator count reached). */
#define FS_EOF (-2)

/*
 * True when device names a flowscope capture; every other name belongs to
 * stock libpcap.
 */
bool fs_device_is_ours(const char *device);

/*
 * Open and start a capture: parse device, load the configuration
 * (config file of the name or FLOWSCOPE_CONFIG, then FLOWSCOPE_*
 * variables of environ), start DPDK's EAL if this process has not yet,
 * create the ring, open every source and start the receive threads.
 * Returns NULL with errbuf saying what failed (key, file and line for
 * configuration errors); nothing is left running then.
 */
fs_capture *fs_capture_open(const char *device,
			    const struct fs_open_params *params,
			    char *errbuf, size_t errlen);

/*
 * Take up to max packets, oldest first, without waiting.
 * Returns the count (0: nothing waiting now), FS_EOF when every source
 * ended and everything was delivered, or -1 on a capture error (text from
 * fs_capture_error()). A capture opened with FS_OPEN_NO_READER returns
 * no packets (pkts may be NULL): 0 while its sources run, FS_EOF once
 * all ended, -1 when one failed; fs_capture_fd() polls readable when
 * that changes.
 */
int fs_capture_read(fs_capture *c, struct fs_packet *pkts, unsigned max);

/*
 * Wait until packets are waiting, the sources ended, fs_capture_wake()
 * was called, or timeout_ms passed (negative: no limit).
 * Returns 1 when there may be something to read (packets, the end; also
 * after a wake-up, so look again), 0 when timeout_ms passed with
 * nothing, -1 on error with errno.
 */
int fs_capture_wait(fs_capture *c, int timeout_ms);

/* Which of an interface's packets the application gets. */
enum fs_direction {
	FS_DIR_INOUT,	/* both (the default) */
	FS_DIR_IN,	/* those it received */
	FS_DIR_OUT,	/* those it sent */
};

/*
 * Deliver only the packets the capture's interfaces received, only those
 * they sent, or both (pcap_setdirection): from the next fs_capture_read()
 * on, packets of the other direction are passed over. Flows, triggers,
 * history and dump files still see both directions.
 * Returns 0, or -1 with errbuf when a source other than a kernel
 * interface cannot tell in from out; FS_DIR_INOUT always succeeds.
 */
int fs_capture_set_direction(fs_capture *c, enum fs_direction d,
			     char *errbuf, size_t errlen);

/* A descriptor that polls readable when fs_capture_read() has something
 * to return (or FS_EOF). Owned by the capture. */
int fs_capture_fd(const fs_capture *c);

/* Make a waiting fs_capture_wait() return. Async-signal-safe. */
void fs_capture_wake(fs_capture *c);

/* Fill s with the capture's counters. */
void fs_capture_stats(fs_capture *c, struct fs_stats *s);

/*
 * Write the counters to out as "name value" lines, one per line: the
 * answer of the control socket's stats command (received, dropped, ...,
 * and dump_* with dump_dir). Returns 0, or -1 when out failed.
 */
int fs_capture_write_stats(fs_capture *c, FILE *out);

/*
 * What the capture runs with, for a program's own messages, as one line
 * in buf: its sources, mode, trigger, buffer, dump_dir and control
 * socket ("control off" without one).
 */
void fs_capture_describe(const fs_capture *c, char *buf, size_t len);

/*
 * Stop receiving: close the control socket, stop the sources and let
 * the dumper write what is left and complete every file. The counters
 * stay readable (fs_capture_stats, fs_capture_write_stats), now final,
 * until fs_capture_close(); nothing else may be called in between.
 * Idempotent; fs_capture_close() does it too.
 */
void fs_capture_stop(fs_capture *c);

/*
 * The application's filter (the program pcap_setfilter() installs): a
 * spool= source reads only the blocks its index says can hold a packet
 * that passes it. The filter itself is still the application's to run.
 */
struct bpf_insn;
void fs_capture_set_filter(fs_capture *c, const struct bpf_insn *insns,
			   unsigned n);

/*
 * Did the capture fall back to FS_TSTAMP_HOST because the timestamps its
 * params asked for were not to be had (libpcap's
 * PCAP_WARNING_TSTAMP_TYPE_NOTSUP)?
 */
bool fs_capture_tstamp_fell_back(const fs_capture *c);

/*
 * The kinds of timestamp device can deliver, as FS_TSTAMP_BIT()s:
 * FS_TSTAMP_HOST always, and a NIC's kind when every source of device
 * offers it (an interface whose driver stamps every packet in hardware:
 * FS_TSTAMP_ADAPTER_UNSYNCED; a dpdkN port with the rx timestamp
 * offload: FS_TSTAMP_ADAPTER when flowscope can read the port's clock to
 * map it onto host time, else FS_TSTAMP_ADAPTER_UNSYNCED). Reads the
 * device's configuration and, for dpdkN, starts DPDK's EAL with its eal
 * key to ask the port. Never fails: a device that cannot be looked at
 * (bad name, bad configuration, no such port) gets FS_TSTAMP_HOST only,
 * and opening it says why.
 */
unsigned fs_device_tstamp_types(const char *device);

/* Text of the last capture error. */
const char *fs_capture_error(const fs_capture *c);

/* Stop the threads, close the sources and free everything. NULL is fine. */
void fs_capture_close(fs_capture *c);

/*
 * Call add for every device flowscope offers (flowscope:IFNAME for the
 * machine's interfaces, flowscope:gen), without starting DPDK. flags are
 * PCAP_IF_* bits. add returns 0 to go on, -1 to stop with an error.
 * Returns 0 or -1 with errbuf.
 */
int fs_list_devices(int (*add)(void *arg, const char *name,
			       const char *desc, unsigned flags),
		    void *arg, char *errbuf, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
