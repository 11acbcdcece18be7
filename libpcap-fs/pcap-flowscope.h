/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flowscope capture module for libpcap: claims flowscope: device names.
 * Only these two entry points are seen by pcap.c.
 */
#ifndef PCAP_FLOWSCOPE_H
#define PCAP_FLOWSCOPE_H

pcap_t *pcap_flowscope_create(const char *device, char *ebuf, int *is_ours);
int pcap_flowscope_findalldevs(pcap_if_list_t *devlistp, char *ebuf);

#endif
