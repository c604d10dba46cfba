/* SPDX-License-Identifier: MIT */
/*
 * main.c - command line, startup in stunnel's order, the main thread's
 * loop (signals, listeners, accept), reload and shutdown.
 *
 * Threads: the main thread owns the configuration in force, the
 * listeners and the signals (through a signalfd; every other thread has
 * them blocked). It accepts and hands each connection to a worker.
 */
#include <buildconf.h>

#include "conn.h"
#include "listener.h"
#include "log.h"
#include "offload.h"
#include "privs.h"
#include "runtime.h"
#include "sockopt.h"
#include "status.h"
#include "tls.h"
#include "transparent.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define DEFAULT_CONFIG "/etc/stunnel/stunnel.conf"
#define SHUTDOWN_GRACE_MS 5000

static struct {
	struct config *cfg;	/* in force; one reference */
	struct listener *listeners;
	struct ev_loop *loop;
	int sfd;		/* signalfd */
	struct ev_watch sw;
	uint64_t resume_at;	/* accept suspended until then (ms) */
	int stopping;
	char *pidfile;
} m = { .sfd = -1 };

/* ---- command line ----------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ktlsd [FILE]        run the stunnel-format configuration FILE\n"
		"                           (default " DEFAULT_CONFIG ")\n"
		"       ktlsd -fd N         read the configuration from file descriptor N\n"
		"       ktlsd --check FILE  (or -n FILE) check FILE and report every error\n"
		"       ktlsd -help         list every configuration option\n"
		"       ktlsd -version      version, build features and defaults\n"
		"       ktlsd -options      the OpenSSL option names for 'options ='\n"
		"       ktlsd -sockets      socket option defaults\n"
		"       ktlsd --print-netfilter FILE\n"
		"                           the nft and ip commands that set up (and tear\n"
		"                           down) what FILE's tproxy services need\n");
}

static void print_version(void)
{
	struct utsname u;

	uname(&u);
	fprintf(stderr, "ktlsd %s on %s-linux platform\n", KTLSD_VERSION,
		u.machine);
	fprintf(stderr, "Compiled with %s\n", OPENSSL_VERSION_TEXT);
	fprintf(stderr, "Running  with %s\n", OpenSSL_version(OPENSSL_VERSION));
	fprintf(stderr,
		"Threading:PTHREAD Sockets:IPv6 TLS:SNI Data path:kTLS+splice,userspace "
		"Engines:%sepoll\n", HAVE_LIBURING ? "io_uring," : "");
	fprintf(stderr, "\nGlobal options:\n"
			"foreground          = no\n"
			"syslog              = yes\n"
			"debug               = daemon.notice\n"
			"ioEngine            = auto\n"
			"\nService-level options:\n"
			"ciphers             = HIGH:!aNULL:!SSLv2:!DH:!kDHEPSK\n"
			"ciphersuites        = TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256\n"
			"curves              = X25519:P-256:X448:P-521:P-384\n"
			"failover            = prio\n"
			"ktls                = auto\n"
			"options             = NO_SSLv3\n"
			"sessionCacheSize    = 1000\n"
			"sessionCacheTimeout = 300 seconds\n"
			"TIMEOUTbusy         = 300 seconds\n"
			"TIMEOUTclose        = 60 seconds\n"
			"TIMEOUTconnect      = 10 seconds\n"
			"TIMEOUTidle         = 43200 seconds\n");
}

/* ---- configuration ------------------------------------------------------ */

static void report_log(void *arg, const char *msg)
{
	(void)arg;
	logm(LOG_ERR, "%s", msg);
}

static void report_plain(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

/* Parse and build the TLS contexts; NULL if anything was reported. */
static struct config *load(const char *path, int fd, config_report_fn rep)
{
	struct config *cfg = config_load(path, fd, rep, NULL);

	if (!cfg)
		return NULL;
	if (tls_config_init(cfg, rep, NULL) < 0) {
		cfg_put(cfg);
		return NULL;
	}
	return cfg;
}

static void log_notices(const struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->notices.n; i++)
		logm(LOG_NOTICE, "%s", cfg->notices.v[i].v);
}

/* ---- accepting ----------------------------------------------------------- */

static void listeners_watch(uint32_t events)
{
	struct listener *l;

	for (l = m.listeners; l; l = l->next)
		ev_watch_set(m.loop, &l->w, events);
}

static void suspend_accept(void)
{
	logm(LOG_ERR, "Accepting new connections suspended for 1 second");
	listeners_watch(0);
	m.resume_at = now_ms() + 1000;
}

static void accept_one(struct listener *l, int fd,
		       const struct sockaddr_storage *ss, socklen_t len)
{
	struct service *svc = l->svc;
	char peer[ADDR_STRLEN];
	struct conn *c;

	if (!svc) {
		status_serve(fd);
		return;
	}
	addr_format((const struct sockaddr *)ss, len, peer, sizeof(peer));
	if ((long)__atomic_load_n(&conns_active, __ATOMIC_RELAXED) >=
	    max_clients) {
		logc(svc, 0, LOG_WARNING,
		     "Connection rejected: too many clients (>=%ld)",
		     max_clients);
		close(fd);
		return;
	}
	sockopt_apply(svc, SOCKSIDE_LOCAL, fd, 0);
	c = conn_new(l->cfg, svc, fd, fd, peer);
	if (!c) {
		logc(svc, 0, LOG_ERR, "Connection rejected: out of memory");
		close(fd);
		return;
	}
	logc(svc, c->id, LOG_NOTICE, "Service [%s] accepted connection from %s",
	     svc->name, peer);
	workers_dispatch(c);
}

static void on_accept(struct ev_watch *w, uint32_t events)
{
	struct listener *l = w->arg;
	int i;

	for (i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			accept_one(l, fd, &ss, len);
			continue;
		}
		switch (errno) {
		case EAGAIN:
			return;
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
			continue;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			suspend_accept();
			return;
		default:
			logm(LOG_ERR, "accept: %s (%d)", strerror(errno), errno);
			return;
		}
	}
}

static void listeners_arm(void)
{
	struct listener *l;

	for (l = m.listeners; l; l = l->next) {
		if (!l->w.cb)
			ev_watch_init(&l->w, l->fd, on_accept, l);
		l->w.arg = l;
		if (!m.resume_at)
			ev_watch_set(m.loop, &l->w, EV_READ);
	}
}

static void listeners_drop(struct listener *set)
{
	struct listener *l;

	for (l = set; l; l = l->next)
		ev_watch_del(m.loop, &l->w);
	listeners_close(set);
}

/* ---- reload --------------------------------------------------------------- */

static void reload(void)
{
	struct listener *fresh;
	struct config *cfg;

	if (!m.cfg->path) {
		logm(LOG_ERR, "Cannot reload: the configuration was read from a file descriptor");
		logm(LOG_ERR, "Failed to reload the configuration file");
		status_set_reload("failed: configuration read from a file descriptor");
		return;
	}
	logm(LOG_NOTICE, "Reading configuration from file %s", m.cfg->path);
	cfg = load(m.cfg->path, -1, report_log);
	if (cfg && cfg->inetd) {
		logm(LOG_ERR, "%s: a running daemon cannot switch to inetd mode",
		     m.cfg->path);
		cfg_put(cfg);
		cfg = NULL;
	}
	if (cfg && (transparent_apply(cfg) < 0 ||
		    listeners_open(cfg, &m.listeners, &fresh) < 0)) {
		transparent_apply(m.cfg);	/* back to the one in force */
		cfg_put(cfg);
		cfg = NULL;
	}
	if (!cfg) {
		logm(LOG_ERR, "Failed to reload the configuration file");
		status_set_reload("failed (the previous configuration is still in force)");
		cfg_put(cfg);
		return;
	}
	/* Not reloadable, as in stunnel: keep the values in force. */
	cfg->foreground = m.cfg->foreground;
	listeners_drop(m.listeners);	/* those not taken over */
	m.listeners = fresh;
	listeners_arm();
	log_open(cfg);
	cfg_put(m.cfg);
	m.cfg = cfg;
	runtime_set_current(cfg);
	log_notices(cfg);
	logm(LOG_NOTICE, "Configuration successful");
	status_set_reload("ok");
}

/* ---- signals -------------------------------------------------------------- */

static const int handled[] = { SIGHUP, SIGUSR1, SIGUSR2, SIGTERM, SIGINT,
			       SIGQUIT };

static void log_active(const struct conn *c, void *arg)
{
	(void)arg;
	logc(c->svc, c->id, LOG_EMERG,
	     "Active connection %llu: Service [%s], %llu byte(s) sent to TLS, %llu byte(s) sent to socket",
	     (unsigned long long)c->id, c->svc->name,
	     (unsigned long long)conn_bytes_to_tls(c),
	     (unsigned long long)conn_bytes_to_socket(c));
}

static void begin_stop(void)
{
	if (m.stopping) {
		workers_stop(0);	/* second signal: no more grace */
		return;
	}
	m.stopping = 1;
	logm(LOG_NOTICE, "Terminated");
	listeners_drop(m.listeners);
	m.listeners = NULL;
	workers_stop(SHUTDOWN_GRACE_MS);
}

static void on_signal(struct ev_watch *w, uint32_t events)
{
	struct signalfd_siginfo si;

	while (read(m.sfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			if (!m.stopping)
				reload();
			break;
		case SIGUSR1:
			log_reopen();
			break;
		case SIGUSR2:
			workers_foreach(log_active, NULL);
			break;
		default:
			begin_stop();
		}
	}
}

static int signals_setup(void)
{
	sigset_t set;
	size_t i;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	for (i = 0; i < sizeof(handled) / sizeof(handled[0]); i++) {
		struct sigaction old;

		/* A signal ignored at startup stays ignored (stunnel). */
		if (sigaction(handled[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaddset(&set, handled[i]);
	}
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	m.sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (m.sfd < 0)
		return -1;
	ev_watch_init(&m.sw, m.sfd, on_signal, NULL);
	return ev_watch_set(m.loop, &m.sw, EV_READ);
}

/* ---- process --------------------------------------------------------------- */

static int daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		return -1;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
	log_detach_stderr();
	return 0;
}

static int write_pid(const char *path)
{
	char buf[32];
	int fd, n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		logm(LOG_ERR, "Cannot create pid file %s: %s", path,
		     strerror(errno));
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, n) != n) {
		close(fd);
		return -1;
	}
	close(fd);
	m.pidfile = strdup(path);
	return 0;
}

/* ioEngine: io_uring when asked or when auto finds it usable. */
static int choose_engine(const struct config *cfg)
{
	int rc;

	if (cfg->io_engine == IO_ENGINE_EPOLL) {
		ev_set_engine(EV_EPOLL);
		return 0;
	}
	rc = ev_uring_probe();
	if (rc == 0) {
		ev_set_engine(EV_URING);
		return 0;
	}
	if (cfg->io_engine == IO_ENGINE_URING) {
		logm(LOG_ERR, "ioEngine = uring, but io_uring cannot be used here: %s%s",
		     strerror(-rc), rc == -EPERM ?
		     " (kernel.io_uring_disabled or a seccomp filter)" : "");
		return -1;
	}
	logm(LOG_NOTICE, "io_uring unavailable (%s%s): using epoll",
	     strerror(-rc), rc == -EPERM ?
	     ": kernel.io_uring_disabled or a seccomp filter" : "");
	ev_set_engine(EV_EPOLL);
	return 0;
}

static int worker_count(const struct config *cfg)
{
	long n = cfg->workers;

	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

/* inetd mode: one connection on stdin/stdout, then exit. */
static int run_inetd(struct config *cfg)
{
	struct service *svc = &cfg->defaults;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char peer[ADDR_STRLEN] = "stdin";
	struct conn *c;

	if (!getpeername(0, (struct sockaddr *)&ss, &len))
		addr_format((struct sockaddr *)&ss, len, peer, sizeof(peer));
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	fcntl(1, F_SETFL, fcntl(1, F_GETFL) | O_NONBLOCK);
	logc(svc, 0, LOG_DEBUG, "Service [%s] started", svc->name);
	c = conn_new(cfg, svc, 0, 1, peer);
	if (!c)
		return 1;
	worker_run_inline(c);
	return 0;
}

static void main_loop(void)
{
	for (;;) {
		int rc = ev_run_once(m.loop, m.stopping ? 100 : 1000);

		if (rc < 0)
			fatal("main loop: %s", strerror(-rc));
		if (m.resume_at && now_ms() >= m.resume_at) {
			m.resume_at = 0;
			listeners_watch(EV_READ);
		}
		if (m.stopping && !__atomic_load_n(&conns_active,
						    __ATOMIC_RELAXED))
			break;
	}
}

static int print_netfilter(const char *path)
{
	struct config *cfg = load(path, -1, report_plain);
	char *text;

	if (!cfg) {
		fprintf(stderr, "Configuration failed\n");
		return 1;
	}
	text = transparent_plan_text(cfg);
	if (text)
		fputs(text, stdout);
	else
		fprintf(stderr, "%s: no service uses tproxy\n", path);
	free(text);
	cfg_put(cfg);
	return 0;
}

static int check_only(const char *path)
{
	struct config *cfg = load(path, -1, report_plain);

	if (!cfg) {
		fprintf(stderr, "Configuration failed\n");
		return 1;
	}
	fprintf(stderr, "%s: configuration OK\n", path);
	cfg_put(cfg);
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = DEFAULT_CONFIG;
	char real[PATH_MAX];
	int fd = -1, rc;

	log_init();
	tls_global_init();
	if (argc > 1) {
		const char *a = argv[1];

		while (*a == '-' && a[1] == '-')
			a++;	/* --help and -help alike */
		if (!strcasecmp(a, "-help")) {
			usage(stderr);
			config_print_help(stderr);
			return 0;
		}
		if (!strcasecmp(a, "-version")) {
			print_version();
			return 0;
		}
		if (!strcasecmp(a, "-options")) {
			config_print_ssl_options(stderr);
			return 0;
		}
		if (!strcasecmp(a, "-sockets")) {
			config_print_sockets(stderr);
			return 0;
		}
		if (!strcasecmp(a, "-options-markdown")) {
			config_print_markdown(stdout);
			return 0;
		}
		if (!strcasecmp(a, "-check") || !strcmp(a, "-n")) {
			if (argc != 3) {
				usage(stderr);
				return 1;
			}
			return check_only(argv[2]);
		}
		if (!strcasecmp(a, "-print-netfilter")) {
			if (argc != 3) {
				usage(stderr);
				return 1;
			}
			return print_netfilter(argv[2]);
		}
		if (!strcasecmp(a, "-fd")) {
			char *end;

			if (argc != 3 || (fd = strtol(argv[2], &end, 10)) < 0 ||
			    *end) {
				usage(stderr);
				return 1;
			}
			path = NULL;
		} else if (a[0] == '-') {
			usage(stderr);
			return 1;
		} else {
			path = argv[1];
		}
	}
	if (path) {
		if (!realpath(path, real)) {
			logm(LOG_ERR, "Invalid configuration file name \"%s\"",
			     path);
			return 1;
		}
		path = real;
	}

	logm(LOG_NOTICE, "ktlsd %s on Linux, with %s", KTLSD_VERSION,
	     OpenSSL_version(OPENSSL_VERSION));
	/* Probe kernel TLS while privileged (attaching the ULP as root
	 * loads the tls module), before the TLS contexts are built. */
	offload_probe();
	if (path)
		logm(LOG_NOTICE, "Reading configuration from file %s", path);
	else
		logm(LOG_NOTICE, "Reading configuration from descriptor %d", fd);
	m.cfg = load(path, fd, report_log);
	if (!m.cfg) {
		logm(LOG_ERR, "Configuration failed");
		return 1;
	}
	max_clients = runtime_max_clients();
	started_at = time(NULL);
	log_configure(m.cfg);
	log_notices(m.cfg);
	logm(LOG_NOTICE, "Configuration successful");
	logm(LOG_DEBUG, "Clients allowed=%ld", max_clients);

	offload_log();

	/* Transparent proxying: privileges, routing, netfilter state; what
	 * tproxy = auto installs is removed when the process exits. */
	atexit(transparent_teardown);
	if (transparent_apply(m.cfg) < 0) {
		logm(LOG_ERR, "Configuration failed");
		return 1;
	}

	/* stunnel's order: bind as root, chroot, drop, open the output */
	if (!m.cfg->inetd &&
	    listeners_open(m.cfg, &m.listeners, &m.listeners) < 0) {
		logm(LOG_ERR, "Configuration failed");
		return 1;
	}
	if (privs_drop(m.cfg) < 0)
		return 1;
	if (log_open(m.cfg) < 0)
		return 1;
	runtime_set_current(m.cfg);

	if (choose_engine(m.cfg) < 0)
		return 1;
	if (m.cfg->inetd) {
		rc = run_inetd(m.cfg);
		runtime_set_current(NULL);
		cfg_put(m.cfg);
		return rc;
	}
	if (m.cfg->foreground == FG_NO && daemonize() < 0)
		fatal("daemonize: %s", strerror(errno));
	if (m.cfg->pid.v && *m.cfg->pid.v && write_pid(m.cfg->pid.v) < 0)
		return 1;
	if ((rc = ev_loop_new(&m.loop)) < 0)
		fatal("event loop: %s", strerror(-rc));
	if (signals_setup() < 0)
		fatal("signals: %s", strerror(errno));
	if ((rc = workers_start(worker_count(m.cfg))) < 0)
		fatal("worker threads: %s", strerror(-rc));
	listeners_arm();
	logm(LOG_NOTICE, "Event engine: %s, %d worker(s)",
	     ev_engine_name(ev_get_engine()), workers_count());
	logm(LOG_INFO, "Accepting new connections");
	main_loop();
	workers_join();
	if (m.pidfile)
		unlink(m.pidfile);
	runtime_set_current(NULL);
	cfg_put(m.cfg);
	log_close();
	return 0;
}
