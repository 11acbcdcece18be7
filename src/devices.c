/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The devices flowscope offers to pcap_findalldevs() (tcpdump -D): one
 * flowscope:IFNAME per kernel interface and flowscope:gen. Listing them
 * starts nothing: no DPDK, no threads.
 */
#define _GNU_SOURCE
#include "flowscope.h"

#include <net/if.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <errno.h>

#include "devname.h"

static unsigned iface_flags(int sock, const char *name)
{
	struct ifreq ifr;
	unsigned flags = 0;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (sock < 0 || ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
		return 0;
	if (ifr.ifr_flags & IFF_UP)
		flags |= PCAP_IF_UP;
	if (ifr.ifr_flags & IFF_RUNNING)
		flags |= PCAP_IF_RUNNING | PCAP_IF_CONNECTION_STATUS_CONNECTED;
	else
		flags |= PCAP_IF_CONNECTION_STATUS_DISCONNECTED;
	if (ifr.ifr_flags & IFF_LOOPBACK)
		flags = (flags & ~PCAP_IF_CONNECTION_STATUS) |
			PCAP_IF_LOOPBACK |
			PCAP_IF_CONNECTION_STATUS_NOT_APPLICABLE;
	return flags;
}

int fs_list_devices(int (*add)(void *arg, const char *name,
			       const char *desc, unsigned flags),
		    void *arg, char *errbuf, size_t errlen)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	char name[IF_NAMESIZE + 32], desc[IF_NAMESIZE + 64];
	int sock, rc = 0;

	if (ifs == NULL) {
		snprintf(errbuf, errlen, "flowscope: cannot list interfaces: "
			 "%s", strerror(errno));
		return -1;
	}
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	for (i = ifs; i->if_name != NULL && rc == 0; i++) {
		snprintf(name, sizeof(name), FS_DEVNAME_PREFIX ":%s",
			 i->if_name);
		snprintf(desc, sizeof(desc),
			 "flowscope time-travel capture on %s", i->if_name);
		rc = add(arg, name, desc, iface_flags(sock, i->if_name));
	}
	if (sock >= 0)
		close(sock);
	if_freenameindex(ifs);
	if (rc == 0)
		rc = add(arg, FS_DEVNAME_PREFIX ":gen",
			 "flowscope built-in traffic generator",
			 PCAP_IF_UP | PCAP_IF_RUNNING |
			 PCAP_IF_CONNECTION_STATUS_NOT_APPLICABLE);
	return rc == 0 ? 0 : -1;
}
