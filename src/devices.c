/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The devices flowscope offers to pcap_findalldevs() (tcpdump -D): one
 * flowscope:IFNAME per kernel interface and flowscope:gen. Listing them
 * starts nothing: no DPDK, no threads.
 */
#define _GNU_SOURCE
#include "flowscope.h"

#include <dirent.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <errno.h>
#include <stdbool.h>

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

/* The value of the source key in config file path, in buf; false when
 * it has none (or cannot be read). A quick look, not a full parse. */
static bool named_sources(const char *path, char *buf, size_t len)
{
	char line[512];
	bool found = false;
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *end;

		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "source", 6) != 0)
			continue;
		for (p += 6; *p == ' ' || *p == '\t'; p++)
			;
		if (*p++ != '=')
			continue;
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strcspn(p, "#\r\n");
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		*end = '\0';
		snprintf(buf, len, "%s", p);
		found = *p != '\0';
	}
	fclose(f);
	return found;
}

/* flowscope-NAME for each NAME.conf of the config directory that has a
 * source key, in directory order. */
static int list_named(int (*add)(void *arg, const char *name,
				 const char *desc, unsigned flags), void *arg)
{
	const char *dir = fs_devname_conf_dir();
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;

	if (d == NULL)
		return 0;	/* none configured */
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char name[FS_NAME_MAX + 1], path[4096 + 300], src[256];
		char dev[FS_NAME_MAX + 16], desc[384];
		size_t n = strlen(e->d_name);

		if (n <= 5 || n - 5 > FS_NAME_MAX ||
		    strcmp(e->d_name + n - 5, ".conf") != 0)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(n - 5), e->d_name);
		if (!fs_devname_valid_name(name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (!named_sources(path, src, sizeof(src)))
			continue;
		snprintf(dev, sizeof(dev), FS_DEVNAME_NAMED "%s", name);
		snprintf(desc, sizeof(desc), "flowscope capture %s of %s",
			 name, src);
		rc = add(arg, dev, desc, PCAP_IF_UP | PCAP_IF_RUNNING |
			 PCAP_IF_CONNECTION_STATUS_NOT_APPLICABLE);
	}
	closedir(d);
	return rc;
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
	if (rc == 0)
		rc = list_named(add, arg);
	return rc == 0 ? 0 : -1;
}
