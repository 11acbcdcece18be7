/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the privileged helper and of the direct path that stands
 * in for it: names it refuses, files created owner-only with their header
 * and never over or through anything, reopening only the file it made,
 * the control socket removed only when it is still the one bound, and a
 * helper that ends with pcap_close's wait and sends no SIGCHLD. The
 * helper's cases need root; otherwise they run the direct path only.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "privsep.h"

#define NAME "20240101-120000.000000001_udp_10.0.0.1_1_10.0.0.2_2.pcap"

static char dir[64];
static int dfd = -1;
static volatile sig_atomic_t sigchld;

static void on_sigchld(int sig)
{
	(void)sig;
	sigchld++;
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_privsep.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dfd, 0);
}

static void teardown(void)
{
	char cmd[128];

	close(dfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* the helper when we are root, else NULL (the direct path) */
static fs_privsep *start(const char *ctl)
{
	char err[256] = "";
	fs_privsep *ps = NULL;

	ck_assert_msg(fs_privsep_start(dfd, -1, ctl, &ps, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert(geteuid() == 0 ? ps != NULL : ps == NULL);
	return ps;
}

START_TEST(names)
{
	static const char *bad[] = {
		"", ".pcap", "x", "../x.pcap", "a/b.pcap", "/etc/x.pcap",
		"a..b.pcap", ".hidden.pcap", "x.pcap ", "x pcap.pcap",
		"x\n.pcap", "x.PCAP", "x.pcapx",
	};
	char longname[FS_PS_NAME_MAX + 2];

	ck_assert(fs_privsep_name_ok(NAME));
	ck_assert(fs_privsep_name_ok("a-1.pcap"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!fs_privsep_name_ok(bad[i]), "'%s' accepted",
			      bad[i]);
	memset(longname, 'a', sizeof(longname));
	memcpy(longname + sizeof(longname) - 6, ".pcap", 6);
	ck_assert(!fs_privsep_name_ok(longname));
}
END_TEST

START_TEST(create_reopen)
{
	fs_privsep *ps = start(NULL);
	static const char hdr[] = "HEADER";
	char buf[64];
	struct stat st;
	dev_t dev, dev2;
	ino_t ino, ino2;
	int fd, fd2;

	umask(0277);	/* would leave the owner unable to write */
	fd = fs_privsep_create(ps, dfd, NAME, hdr, 6, &dev, &ino);
	umask(022);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert(st.st_dev == dev && st.st_ino == ino);
	ck_assert_int_eq(st.st_size, 6);
	ck_assert_int_eq(write(fd, "ab", 2), 2);
	close(fd);
	/* never over an existing file, and a bad name is refused */
	errno = 0;
	ck_assert_int_lt(fs_privsep_create(ps, dfd, NAME, hdr, 6, &dev2,
					   &ino2), 0);
	ck_assert_int_eq(errno, EEXIST);
	errno = 0;
	ck_assert_int_lt(fs_privsep_create(ps, dfd, "../x.pcap", hdr, 6, &dev2,
					   &ino2), 0);
	ck_assert_int_eq(errno, EINVAL);
	/* reopened for appending */
	fd = fs_privsep_reopen(ps, dfd, NAME, dev, ino);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "cd", 2), 2);
	close(fd);
	fd = openat(dfd, NAME, O_RDONLY);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 10);
	ck_assert(memcmp(buf, "HEADERabcd", 10) == 0);
	close(fd);
	/* another inode under the name: refused, whatever it is */
	ck_assert_int_eq(renameat(dfd, NAME, dfd, "keep.pcap"), 0);
	fd2 = openat(dfd, NAME, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd2, 0);
	close(fd2);
	errno = 0;
	ck_assert_int_lt(fs_privsep_reopen(ps, dfd, NAME, dev, ino), 0);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert_int_eq(unlinkat(dfd, NAME, 0), 0);
	ck_assert_int_eq(symlinkat("keep.pcap", dfd, NAME), 0);
	errno = 0;
	ck_assert_int_lt(fs_privsep_reopen(ps, dfd, NAME, dev, ino), 0);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert_int_eq(unlinkat(dfd, NAME, 0), 0);
	ck_assert_int_eq(mkfifoat(dfd, NAME, 0600), 0);
	errno = 0;
	ck_assert_int_lt(fs_privsep_reopen(ps, dfd, NAME, dev, ino), 0);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert_int_eq(unlinkat(dfd, NAME, 0), 0);
	/* gone: ENOENT, and nothing is created */
	errno = 0;
	ck_assert_int_lt(fs_privsep_reopen(ps, dfd, NAME, dev, ino), 0);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_lt(faccessat(dfd, NAME, F_OK, AT_SYMLINK_NOFOLLOW), 0);
	fs_privsep_stop(ps);
}
END_TEST

START_TEST(only_its_own_files)
{
	fs_privsep *ps;
	struct stat st;
	dev_t dev;
	ino_t ino;
	int fd;

	if (geteuid() != 0)
		return;	/* no helper to ask */
	ps = start(NULL);
	/* a file the helper did not create: never reopened, even with the
	 * right device and inode */
	fd = openat(dfd, NAME, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	close(fd);
	errno = 0;
	ck_assert_int_lt(fs_privsep_reopen(ps, dfd, NAME, st.st_dev,
					   st.st_ino), 0);
	ck_assert_int_eq(errno, ESTALE);
	/* nor one it forgot */
	ck_assert_int_eq(unlinkat(dfd, NAME, 0), 0);
	fd = fs_privsep_create(ps, dfd, NAME, "x", 1, &dev, &ino);
	ck_assert_int_ge(fd, 0);
	close(fd);
	fd = fs_privsep_reopen(ps, dfd, NAME, dev, ino);
	ck_assert_int_ge(fd, 0);
	close(fd);
	fs_privsep_forget(ps, dev, ino);
	errno = 0;
	ck_assert_int_lt(fs_privsep_reopen(ps, dfd, NAME, dev, ino), 0);
	ck_assert_int_eq(errno, ESTALE);
	fs_privsep_stop(ps);
}
END_TEST

/* a listening socket at path; returns its descriptor */
static int listen_at(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	return fd;
}

START_TEST(control_socket)
{
	struct sigaction sa = { .sa_handler = on_sigchld };
	char path[128], old[128];
	fs_privsep *ps;
	int fd;

	if (geteuid() != 0)
		return;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigchld = 0;
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	/* bound: removed when the helper ends */
	ps = start(path);
	fd = listen_at(path);
	ck_assert_int_eq(fs_privsep_control_bound(ps), 0);
	fs_privsep_stop(ps);
	close(fd);
	ck_assert_int_lt(access(path, F_OK), 0);
	/* replaced since: left alone */
	ps = start(path);
	fd = listen_at(path);
	ck_assert_int_eq(fs_privsep_control_bound(ps), 0);
	close(fd);
	/* (the old one stays linked elsewhere, so the new one cannot get
	 * its inode number) */
	snprintf(old, sizeof(old), "%s/old.sock", dir);
	ck_assert_int_eq(link(path, old), 0);
	ck_assert_int_eq(unlink(path), 0);
	fd = listen_at(path);
	fs_privsep_stop(ps);
	ck_assert_int_eq(access(path, F_OK), 0);
	/* told once only: a later "bound" names nothing new */
	ck_assert_int_eq(unlink(path), 0);
	close(fd);
	ps = start(path);
	ck_assert_int_eq(fs_privsep_control_bound(ps), 0);	/* none yet */
	fd = listen_at(path);
	ck_assert_int_eq(fs_privsep_control_bound(ps), 0);
	fs_privsep_stop(ps);
	ck_assert_int_eq(access(path, F_OK), 0);
	close(fd);
	unlink(path);
	/* removed early when asked (the capture stopped serving it) */
	ps = start(path);
	fd = listen_at(path);
	ck_assert_int_eq(fs_privsep_control_bound(ps), 0);
	fs_privsep_control_stopped(ps);
	ck_assert_int_lt(access(path, F_OK), 0);
	close(fd);
	fs_privsep_stop(ps);
	/* stop waited for every helper: none is left to reap, and none
	 * signalled its end */
	ck_assert_int_lt(waitpid(-1, NULL, WNOHANG | __WALL), 0);
	ck_assert_int_eq(errno, ECHILD);
	ck_assert_int_eq(sigchld, 0);
	signal(SIGCHLD, SIG_DFL);
}
END_TEST

static Suite *privsep_suite(void)
{
	Suite *s = suite_create("privsep");
	TCase *tc = tcase_create("privsep");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, names);
	tcase_add_test(tc, create_reopen);
	tcase_add_test(tc, only_its_own_files);
	tcase_add_test(tc, control_socket);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(privsep_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
