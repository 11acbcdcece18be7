/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowscope capture module for libpcap: claims flowscope: device names.
 * Only these entry points are seen by pcap.c.
 */
#ifndef PCAP_FLOWSCOPE_H
#define PCAP_FLOWSCOPE_H

pcap_t *pcap_flowscope_create(const char *device, char *ebuf, int *is_ours);
int pcap_flowscope_findalldevs(pcap_if_list_t *devlistp, char *ebuf);

/* Non-zero for a flowscope device name: pcap_lookupnet() answers 0/0 for
 * it, as for "any", instead of failing on a name no interface has. */
int pcap_flowscope_is_ours(const char *device);

#endif
