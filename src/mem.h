/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Memory the receive path writes at line rate (the ring, the history
 * index, the flow slots) is mapped and faulted in when a capture opens:
 * the page faults, the zeroing and the kernel's search for huge pages are
 * paid once in pcap_activate() instead of in the receive thread while
 * packets arrive, and a machine without the memory says so there, as an
 * error, instead of killing the application later.
 */
#ifndef FS_MEM_H
#define FS_MEM_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23	/* Linux 5.14 */
#endif

/*
 * Bytes this process may still make resident without the kernel killing
 * it or another process: the least of MemAvailable (less a share kept
 * for the rest of the system), the room under each memory cgroup limit
 * it is in (v1 or v2), and what RLIMIT_AS leaves. why gets the binding
 * one in words; UINT64_MAX (why "") when nothing could be read.
 */
uint64_t fs_mem_room(char *why, size_t len);

/* v as "1.5 GiB" or "300 MiB". */
void fs_mem_fmt(uint64_t v, char *buf, size_t len);

/* len bytes of zeroed, private, resident memory (huge pages where the
 * kernel has them); NULL with errno set when they cannot be had. */
static inline void *fs_map_resident(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/* fewer TLB misses; a hint only */
	(void)madvise(p, len, MADV_HUGEPAGE);
	/* not inherited by a child (the privileged helper, privsep.c, or
	 * one the application forks): the fork then neither copies it nor
	 * makes each later write by the receive thread a copy-on-write
	 * fault while the child lives */
	(void)madvise(p, len, MADV_DONTFORK);
	if (madvise(p, len, MADV_POPULATE_WRITE) != 0) {
		int e = errno;

		if (e == EINVAL) {
			/* an older kernel: touch every page instead */
			long pg = sysconf(_SC_PAGESIZE);

			for (size_t off = 0; off < len; off += (size_t)pg)
				((volatile char *)p)[off] = 0;
			return p;
		}
		munmap(p, len);
		errno = e == EFAULT || e == EAGAIN ? ENOMEM : e;
		return NULL;
	}
	return p;
}

#endif
