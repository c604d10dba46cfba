/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: the stunnel.conf parser and the option table
 * (daemon/config.c, daemon/options.c). Configuration files are written
 * under a temporary directory; only loopback addresses, port 0 and names
 * under .invalid are used, so nothing touches the network.
 */
#include "../harness.h"
#include "../../daemon/config.h"
#include "util.h"

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>

/* ---- fixture ------------------------------------------------------------ */

static char base[64];		/* made by the parent, removed at exit */

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

__attribute__((constructor)) static void make_base(void)
{
	snprintf(base, sizeof(base), "/tmp/ktlsd-test-config.XXXXXX");
	if (!mkdtemp(base))
		base[0] = '\0';
}

/* Runs in the parent only: the test children leave with _exit(). */
__attribute__((destructor)) static void remove_base(void)
{
	if (base[0])
		nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* This test's own directory (tests run in forked children). */
static const char *tdir(void)
{
	static char dir[128];

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "%s/%d", base, (int)getpid());
		if (mkdir(dir, 0700) < 0)
			HARNESS_FAIL(1, "mkdir %s", dir);
	}
	return dir;
}

/* Write TEXT to NAME in the test directory; returns the path (static). */
static const char *write_file(const char *name, const char *text)
{
	static char path[4][256];
	static int i;
	char *p = path[i++ % 4];
	FILE *f;

	snprintf(p, 256, "%s/%s", tdir(), name);
	f = fopen(p, "w");
	if (!f)
		HARNESS_FAIL(1, "cannot write %s", p);
	fputs(text, f);
	fclose(f);
	return p;
}

static void make_dir(const char *name)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", tdir(), name);
	if (mkdir(p, 0700) < 0)
		HARNESS_FAIL(1, "mkdir %s", p);
}

struct errs {
	char buf[16384];
	int n;
};

static void collect(void *arg, const char *msg)
{
	struct errs *e = arg;
	size_t len = strlen(e->buf);

	snprintf(e->buf + len, sizeof(e->buf) - len, "%s\n", msg);
	e->n++;
}

static const char *conf;	/* path of the last test.conf */

static struct config *load(const char *text, struct errs *e)
{
	memset(e, 0, sizeof(*e));
	conf = write_file("test.conf", text);
	return config_load(conf, -1, collect, e);
}

/* E holds the line "FILE:LINE: TEXT" (FILE defaults to test.conf). */
static int has_at(const struct errs *e, const char *file, int line,
		  const char *text)
{
	char want[1024];

	snprintf(want, sizeof(want), "%s:%d: %s\n", file, line, text);
	return strstr(e->buf, want) != NULL;
}

#define EXPECT_ERR(e, line, text)                                        \
	do {                                                             \
		if (!has_at(e, conf, line, text))                        \
			HARNESS_FAIL(0, "missing error \"%s:%d: %s\" in:\n%s", \
				     conf, line, text, (e)->buf);        \
	} while (0)

#define ASSERT_ONE_ERR(cfg, e, line, text)                               \
	do {                                                             \
		ASSERT_TRUE((cfg) == NULL);                              \
		EXPECT_ERR(e, line, text);                               \
		EXPECT_EQ((e)->n, 1);                                    \
	} while (0)

/* A notice with exactly TEXT after "file:line: ". */
static int has_notice(const struct config *cfg, int line, const char *text)
{
	char want[1024];
	size_t i;

	snprintf(want, sizeof(want), "%s:%d: %s", conf, line, text);
	for (i = 0; i < cfg->notices.n; i++)
		if (!strcmp(cfg->notices.v[i].v, want))
			return 1;
	return 0;
}

/* A minimal valid server section, to append service options to. */
#define SERVER "[s]\naccept = 127.0.0.1:0\nconnect = 127.0.0.1:9\n" \
	       "cert = /nonexistent/cert.pem\n"

static int family(const struct addrlist *l, size_t i)
{
	return l->a[i].ss.ss_family;
}

/* ---- grammar ------------------------------------------------------------ */

TEST(bom_comments_and_case)
{
	struct errs e;
	struct config *cfg = load("\xef\xbb\xbf; a comment\n"
				  "# another comment\n"
				  "   ; indented comment\n"
				  "\n"
				  "FOREGROUND = Yes\n"
				  "[Svc One]\n"
				  "ACCEPT=127.0.0.1:0\n"
				  "  Connect   =   127.0.0.1:9   \n"
				  "CLIENT = YES\n", &e);

	ASSERT_TRUE(cfg != NULL);
	EXPECT_EQ(e.n, 0);
	EXPECT_EQ(cfg->foreground, FG_YES);
	ASSERT_EQ(cfg->n_services, 1);
	EXPECT_STREQ(cfg->services[0]->name, "Svc One");
	EXPECT_EQ(cfg->services[0]->at.line, 6);
	EXPECT_EQ(cfg->services[0]->client, 1);
	EXPECT_STREQ(cfg->services[0]->connect.v[0].v, "127.0.0.1:9");
	EXPECT_EQ(cfg->services[0]->connect.v[0].at.line, 8);
	EXPECT_FALSE(cfg->inetd);
	config_free(cfg);
}

TEST(bom_only_on_line_one)
{
	struct errs e;
	struct config *cfg = load("foreground = yes\n\xef\xbb\xbfsyslog = no\n",
				  &e);

	ASSERT_TRUE(cfg == NULL);
	EXPECT_ERR(&e, 2, "\"\xef\xbb\xbfsyslog\": not a valid option");
}

TEST(no_equals)
{
	struct errs e;
	struct config *cfg = load("foreground yes\n", &e);

	ASSERT_ONE_ERR(cfg, &e, 1, "\"foreground yes\": No '=' found");
}

TEST(split_at_first_equals_and_no_eol_comments)
{
	struct errs e;
	struct config *cfg = load("service = a=b ; c\n"
				  "connect = 127.0.0.1:9\n"
				  "client = yes\n", &e);

	ASSERT_TRUE(cfg != NULL);
	EXPECT_STREQ(cfg->defaults.service_name, "a=b ; c");
	config_free(cfg);
}

TEST(unknown_option)
{
	struct errs e;
	struct config *cfg = load("bogus = 1\n", &e);

	ASSERT_TRUE(cfg == NULL);
	EXPECT_ERR(&e, 1, "\"bogus\": not a valid option");
}

TEST(global_option_after_section)
{
	struct errs e;
	struct config *cfg = load(SERVER "Foreground = yes\n", &e);

	ASSERT_ONE_ERR(cfg, &e, 5,
		       "\"Foreground\": Specified option name is not valid "
		       "here");
}

TEST(defaults_inherited_by_sections)
{
	struct errs e;
	struct config *cfg = load("requireCert = yes\n"
				  "sslVersion = TLSv1.2\n"
				  "options = NO_TICKET\n"
				  "checkHost = a.example\n"
				  "cert = /c.pem\n"
				  "TIMEOUTidle = 7\n"
				  "[a]\naccept = 127.0.0.1:0\nconnect = 9\n"
				  "checkHost = b.example\n"
				  "[b]\naccept = 127.0.0.1:0\nconnect = 9\n"
				  "TIMEOUTidle = 8\ncert = /d.pem\n", &e);
	struct service *a, *b;

	ASSERT_TRUE(cfg != NULL);
	ASSERT_EQ(cfg->n_services, 2);
	a = cfg->services[0];
	b = cfg->services[1];
	EXPECT_EQ(a->require_cert, 1);
	EXPECT_EQ(a->version_min, TLS1_2_VERSION);
	EXPECT_EQ(a->version_max, TLS1_2_VERSION);
	EXPECT_TRUE(a->options_set & SSL_OP_NO_TICKET);
	EXPECT_TRUE(a->options_set & SSL_OP_NO_SSLv3);
	ASSERT_EQ(a->check_host.n, 2);
	EXPECT_STREQ(a->check_host.v[0].v, "a.example");
	EXPECT_STREQ(a->check_host.v[1].v, "b.example");
	EXPECT_EQ(b->check_host.n, 1);
	EXPECT_EQ(a->timeout_idle, 7);
	EXPECT_EQ(b->timeout_idle, 8);
	EXPECT_STREQ(a->cert.v, "/c.pem");
	EXPECT_EQ(a->cert.at.line, 5);
	EXPECT_STREQ(b->cert.v, "/d.pem");
	EXPECT_STREQ(cfg->defaults.cert.v, "/c.pem");
	EXPECT_STREQ(a->name, "a");
	EXPECT_STREQ(cfg->defaults.name, "default");
	config_free(cfg);
}

TEST(built_in_defaults)
{
	struct errs e;
	struct config *cfg = load(SERVER, &e);
	struct service *s;

	ASSERT_TRUE(cfg != NULL);
	s = cfg->services[0];
	EXPECT_EQ(cfg->foreground, FG_NO);
	EXPECT_EQ(cfg->log_append, 1);
	EXPECT_EQ(cfg->syslog, 1);
	EXPECT_EQ(cfg->facility, LOG_DAEMON);
	EXPECT_TRUE(cfg->pid.v == NULL);
	EXPECT_EQ(cfg->io_engine, IO_ENGINE_AUTO);
	EXPECT_EQ(cfg->workers, 0);
	EXPECT_TRUE(cfg->status.v == NULL);
	EXPECT_EQ(cfg->refs, 1);
	EXPECT_STREQ(s->ciphers.v, "HIGH:!aNULL:!SSLv2:!DH:!kDHEPSK");
	EXPECT_STREQ(s->ciphersuites.v,
		     "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:"
		     "TLS_CHACHA20_POLY1305_SHA256");
	EXPECT_STREQ(s->curves.v, "X25519:P-256:X448:P-521:P-384");
	EXPECT_EQ(s->security_level, -1);
	EXPECT_EQ(s->debug_level, LOG_NOTICE);
	EXPECT_EQ(s->timeout_busy, 300);
	EXPECT_EQ(s->timeout_close, 60);
	EXPECT_EQ(s->timeout_connect, 10);
	EXPECT_EQ(s->timeout_idle, 43200);
	EXPECT_EQ(s->session_cache_size, 1000);
	EXPECT_EQ(s->session_cache_timeout, 300);
	EXPECT_EQ(s->reset, 1);
	EXPECT_EQ(s->renegotiation, 1);
	EXPECT_EQ(s->session_resume, 1);
	EXPECT_EQ(s->client, 0);
	EXPECT_EQ(s->delay, 0);
	EXPECT_EQ(s->failover, FAILOVER_PRIO);
	EXPECT_EQ(s->ktls, KTLS_AUTO);
	EXPECT_EQ(s->version_min, 0);
	EXPECT_EQ(s->version_max, 0);
	EXPECT_EQ(s->options_set, SSL_OP_NO_SSLv3);
	EXPECT_EQ(s->options_clear, 0);
	EXPECT_EQ(s->ticket_key_len, 0);
	EXPECT_STREQ(s->service_name, "stunnel");
	ASSERT_EQ(s->n_sockopts, 3);
	EXPECT_EQ(s->sockopts[0].side, 'a');
	EXPECT_STREQ(s->sockopts[0].optname, "SO_REUSEADDR");
	EXPECT_EQ(s->sockopts[0].u.i, 1);
	EXPECT_EQ(s->sockopts[1].side, 'l');
	EXPECT_STREQ(s->sockopts[1].optname, "TCP_NODELAY");
	EXPECT_EQ(s->sockopts[2].side, 'r');
	EXPECT_EQ(s->sockopts[2].level, IPPROTO_TCP);
	EXPECT_EQ(s->sockopts[2].name, TCP_NODELAY);
	EXPECT_EQ(cfg->notices.n, 0);
	config_free(cfg);
}

TEST(realpath_recorded)
{
	struct errs e;
	struct config *cfg = load(SERVER, &e);
	char real[PATH_MAX];

	ASSERT_TRUE(cfg != NULL);
	ASSERT_TRUE(realpath(conf, real) != NULL);
	EXPECT_STREQ(cfg->path, real);
	ASSERT_EQ(cfg->n_files, 1);
	EXPECT_STREQ(cfg->files[0], conf);
	config_free(cfg);
}

TEST(missing_file)
{
	struct errs e = { 0 };
	char path[256];

	snprintf(path, sizeof(path), "%s/nope.conf", tdir());
	ASSERT_TRUE(config_load(path, -1, collect, &e) == NULL);
	ASSERT_EQ(e.n, 1);
	ASSERT_CONTAINS(e.buf, "Invalid configuration file name \"");
	ASSERT_CONTAINS(e.buf, "/nope.conf\"\n");
}

TEST(read_from_fd)
{
	static const char good[] = "client = yes\nconnect = 127.0.0.1:9\n";
	static const char text[] = "client = yes\nconnect = 127.0.0.1:9\n"
				   "bogus = 1\n";
	struct errs e = { 0 };
	struct config *cfg;
	char want[64];
	int fds[2];

	ASSERT_EQ(pipe(fds), 0);
	ASSERT_EQ(write(fds[1], good, sizeof(good) - 1),
		  (ssize_t)sizeof(good) - 1);
	close(fds[1]);
	cfg = config_load(NULL, fds[0], collect, &e);
	ASSERT_TRUE(cfg != NULL);
	EXPECT_TRUE(cfg->path == NULL);
	EXPECT_TRUE(cfg->inetd);
	EXPECT_EQ(cfg->defaults.client, 1);
	config_free(cfg);
	close(fds[0]);

	/* errors name the descriptor */
	ASSERT_EQ(pipe(fds), 0);
	ASSERT_EQ(write(fds[1], text, sizeof(text) - 1),
		  (ssize_t)sizeof(text) - 1);
	close(fds[1]);
	ASSERT_TRUE(config_load(NULL, fds[0], collect, &e) == NULL);
	snprintf(want, sizeof(want), "fd %d:3: \"bogus\": not a valid option",
		 fds[0]);
	EXPECT_CONTAINS(e.buf, want);
	close(fds[0]);
}

TEST(multiple_errors_reported)
{
	struct errs e;
	struct config *cfg = load("foreground = maybe\n"
				  "cert = /c.pem\n"
				  "[s]\n"
				  "accept = 127.0.0.1:0\n"
				  "workers = 3\n"
				  "TIMEOUTbusy = soon\n"
				  "exec = /bin/cat\n"
				  "bogus = 1\n"
				  "[t]\n"
				  "accept = 127.0.0.1:0\n", &e);

	ASSERT_TRUE(cfg == NULL);
	EXPECT_ERR(&e, 1, "\"foreground = maybe\": Expected yes, quiet or no");
	EXPECT_ERR(&e, 5, "\"workers\": Specified option name is not valid "
			  "here");
	EXPECT_ERR(&e, 6, "\"TIMEOUTbusy = soon\": Expected a number from 0 "
			  "to 2147483");
	EXPECT_ERR(&e, 7, "option 'exec' is not supported yet");
	EXPECT_ERR(&e, 8, "\"bogus\": not a valid option");
	/* [s] had errors of its own: not checked as a whole; [t] is */
	EXPECT_ERR(&e, 9, "[t]: Each service must define two endpoints");
	EXPECT_EQ(e.n, 6);
}

TEST(no_follow_on_errors_after_a_bad_line)
{
	struct errs e;
	struct config *cfg = load("client = yes\nconnect 127.0.0.1:9\n", &e);

	/* not also "Inetd mode must define one endpoint" */
	ASSERT_ONE_ERR(cfg, &e, 2, "\"connect 127.0.0.1:9\": No '=' found");

	cfg = load("cert /c.pem\n" SERVER, &e);
	ASSERT_ONE_ERR(cfg, &e, 1, "\"cert /c.pem\": No '=' found");
}

/* ---- include ------------------------------------------------------------ */

TEST(include_order_and_globals)
{
	struct errs e;
	struct config *cfg;
	char text[512];

	make_dir("conf.d");
	make_dir("conf.d/zz-subdir");	/* not a regular file: skipped */
	write_file("conf.d/20-b.conf", "[b]\naccept = 127.0.0.1:0\n"
				       "connect = 9\n");
	write_file("conf.d/10-a.conf", "foreground = quiet\n"
				       "cert = /c.pem\n"
				       "[a]\naccept = 127.0.0.1:0\n"
				       "connect = 9\n");
	write_file("conf.d/30-c.conf", "[c]\naccept = 127.0.0.1:0\n"
				       "connect = 9\n");
	snprintf(text, sizeof(text), "syslog = no\ninclude = %s/conf.d\n"
		 "TIMEOUTidle = 5\n", tdir());
	cfg = load(text, &e);
	ASSERT_TRUE(cfg != NULL);
	EXPECT_EQ(cfg->foreground, FG_QUIET);
	EXPECT_EQ(cfg->syslog, 0);
	ASSERT_EQ(cfg->n_services, 3);
	EXPECT_STREQ(cfg->services[0]->name, "a");
	EXPECT_STREQ(cfg->services[1]->name, "b");
	EXPECT_STREQ(cfg->services[2]->name, "c");
	/* after the include, the last section is still open */
	EXPECT_EQ(cfg->services[2]->timeout_idle, 5);
	EXPECT_EQ(cfg->services[0]->timeout_idle, 43200);
	EXPECT_STREQ(cfg->services[1]->cert.v, "/c.pem");
	EXPECT_EQ(cfg->n_files, 4);
	EXPECT_CONTAINS(cfg->services[1]->at.file, "conf.d/20-b.conf");
	EXPECT_EQ(cfg->services[1]->at.line, 1);
	config_free(cfg);
}

TEST(include_global_after_section_is_refused)
{
	struct errs e;
	struct config *cfg;
	const char *inc;
	char text[512];

	make_dir("inc");
	inc = write_file("inc/x.conf", "\nsyslog = no\n");
	snprintf(text, sizeof(text), SERVER "include = %s/inc/\n", tdir());
	cfg = load(text, &e);
	ASSERT_TRUE(cfg == NULL);
	EXPECT_TRUE(has_at(&e, inc, 2, "\"syslog\": Specified option name is "
				       "not valid here"));
	EXPECT_EQ(e.n, 1);
}

TEST(include_errors)
{
	struct errs e;
	struct config *cfg;
	char text[512];

	make_dir("loop");
	snprintf(text, sizeof(text), "include = %s/loop\n", tdir());
	write_file("loop/self.conf", text);
	snprintf(text, sizeof(text),
		 "include = %s/none\ninclude = %s/loop\n" SERVER, tdir(),
		 tdir());
	cfg = load(text, &e);
	ASSERT_TRUE(cfg == NULL);
	snprintf(text, sizeof(text), "\"include = %s/none\": Cannot read "
		 "directory: No such file or directory", tdir());
	EXPECT_ERR(&e, 1, text);
	EXPECT_CONTAINS(e.buf, "Include stack overflow (recursive includes "
			       "suspected)");
	EXPECT_EQ(e.n, 2);
}

/* ---- repeatable and last-wins options ----------------------------------- */

TEST(repeatable_and_last_wins)
{
	struct errs e;
	struct config *cfg = load("[s]\n"
				  "accept = 127.0.0.1:0\n"
				  "accept = 127.0.0.2:0\n"
				  "connect = 127.0.0.1:9\n"
				  "connect = 127.0.0.1:10\n"
				  "cert = /first.pem\n"
				  "cert = /second.pem\n"
				  "checkEmail = a@example.org\n"
				  "checkEmail = b@example.org\n"
				  "checkIP = 192.0.2.1\n"
				  "checkIP = 192.0.2.2\n"
				  "TIMEOUTclose = 1\nTIMEOUTclose = 0\n", &e);
	struct service *s;

	ASSERT_TRUE(cfg != NULL);
	s = cfg->services[0];
	EXPECT_EQ(s->accept.n, 2);
	EXPECT_EQ(s->accept_addrs.n, 2);
	EXPECT_EQ(s->connect.n, 2);
	EXPECT_EQ(s->connect_addrs.n, 2);
	EXPECT_STREQ(s->cert.v, "/second.pem");
	EXPECT_EQ(s->cert.at.line, 7);
	EXPECT_EQ(s->check_email.n, 2);
	EXPECT_STREQ(s->check_ip.v[1].v, "192.0.2.2");
	EXPECT_EQ(s->timeout_close, 0);
	config_free(cfg);
}

TEST(empty_value_unsets_inherited_file)
{
	struct errs e;
	struct config *cfg = load("CAfile = /ca.pem\n" SERVER "CAfile =\n",
				  &e);

	ASSERT_TRUE(cfg != NULL);
	EXPECT_TRUE(cfg->services[0]->cafile.v == NULL);
	EXPECT_STREQ(cfg->defaults.cafile.v, "/ca.pem");
	config_free(cfg);
}

/* ---- every built option ------------------------------------------------- */

TEST(all_built_global_options)
{
	struct errs e;
	struct config *cfg = load("chroot = /var/empty\n"
				  "debug = local3.info\n"
				  "foreground = yes\n"
				  "ioEngine = EPOLL\n"
				  "log = overwrite\n"
				  "output = /var/log/ktlsd.log\n"
				  "pid = \n"
				  "status = 127.0.0.1:0\n"
				  "syslog = no\n"
				  "workers = 256\n"
				  "setuid = root\nsetgid = 0\n"
				  "service = imaps\n"
				  SERVER, &e);

	ASSERT_TRUE(cfg != NULL);
	EXPECT_STREQ(cfg->chroot.v, "/var/empty");
	EXPECT_EQ(cfg->facility, LOG_LOCAL3);
	EXPECT_EQ(cfg->defaults.debug_level, LOG_INFO);
	EXPECT_EQ(cfg->services[0]->debug_level, LOG_INFO);
	EXPECT_EQ(cfg->foreground, FG_YES);
	EXPECT_EQ(cfg->io_engine, IO_ENGINE_EPOLL);
	EXPECT_EQ(cfg->log_append, 0);
	EXPECT_STREQ(cfg->output.v, "/var/log/ktlsd.log");
	EXPECT_STREQ(cfg->pid.v, "");
	EXPECT_EQ(cfg->pid.at.line, 7);
	EXPECT_STREQ(cfg->status.v, "127.0.0.1:0");
	EXPECT_EQ(cfg->syslog, 0);
	EXPECT_EQ(cfg->workers, 256);
	EXPECT_STREQ(cfg->defaults.setuid.v, "root");
	EXPECT_STREQ(cfg->defaults.setgid.v, "0");
	EXPECT_STREQ(cfg->defaults.service_name, "imaps");
	config_free(cfg);
}

TEST(all_built_service_options)
{
	struct errs e;
	struct config *cfg = load(
		"[s]\n"
		"accept = 127.0.0.1:0\nconnect = 127.0.0.1:9\n"
		"cert = /c.pem\nkey = /k.pem\n"
		"CAfile = /ca.pem\nCApath = /ca.d\n"
		"CRLfile = /crl.pem\nCRLpath = /crl.d\n"
		"verifyChain = yes\nverifyPeer = no\n"
		"ciphers = HIGH\nciphersuites = TLS_AES_128_GCM_SHA256\n"
		"curve = X25519\n"
		"sslVersionMin = TLSv1.2\nsslVersionMax = tlsv1.3\n"
		"options = CIPHER_SERVER_PREFERENCE\noptions = -NO_SSLv3\n"
		"options = no_sslv2\n"
		"securityLevel = 0\n"
		"debug = 7\n"
		"reset = no\nrenegotiation = NO\n"
		"sessionCacheSize = 0\nsession = 600\nsessionResume = no\n"
		"TIMEOUTbusy = 1\nTIMEOUTclose = 2\nTIMEOUTconnect = 3\n"
		"TIMEOUTidle = 4\n"
		"delay = yes\nfailover = RR\n"
		"local = 127.0.0.1\n"
		"ktls = required\n"
		"ticketKeySecret = 000102030405060708090a0b0c0d0e0f\n"
		"ticketMacSecret = 00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:"
		"0E:0F:10:11:12:13:14:15:16:17:18:19:1a:1b:1c:1d:1e:1f\n",
		&e);
	struct service *s;

	ASSERT_TRUE(cfg != NULL);
	s = cfg->services[0];
	EXPECT_STREQ(s->key.v, "/k.pem");
	EXPECT_STREQ(s->cafile.v, "/ca.pem");
	EXPECT_STREQ(s->capath.v, "/ca.d");
	EXPECT_STREQ(s->crlfile.v, "/crl.pem");
	EXPECT_STREQ(s->crlpath.v, "/crl.d");
	EXPECT_EQ(s->verify_chain, 1);
	EXPECT_EQ(s->verify_peer, 0);
	EXPECT_EQ(s->require_cert, 1);	/* implied */
	EXPECT_STREQ(s->ciphers.v, "HIGH");
	EXPECT_STREQ(s->ciphersuites.v, "TLS_AES_128_GCM_SHA256");
	EXPECT_STREQ(s->curves.v, "X25519");
	EXPECT_EQ(s->version_min, TLS1_2_VERSION);
	EXPECT_EQ(s->version_max, TLS1_3_VERSION);
	EXPECT_EQ(s->version_at.line, 16);
	EXPECT_EQ(s->options_set, SSL_OP_CIPHER_SERVER_PREFERENCE);
	EXPECT_EQ(s->options_clear, SSL_OP_NO_SSLv3);
	EXPECT_EQ(s->security_level, 0);
	EXPECT_EQ(s->debug_level, 7);
	EXPECT_EQ(s->reset, 0);
	EXPECT_EQ(s->renegotiation, 0);
	EXPECT_EQ(s->session_cache_size, 0);
	EXPECT_EQ(s->session_cache_timeout, 600);
	EXPECT_EQ(s->session_resume, 0);
	EXPECT_EQ(s->timeout_busy, 1);
	EXPECT_EQ(s->timeout_close, 2);
	EXPECT_EQ(s->timeout_connect, 3);
	EXPECT_EQ(s->timeout_idle, 4);
	EXPECT_EQ(s->delay, 1);
	EXPECT_EQ(s->connect_addrs.n, 0);	/* resolved per connection */
	EXPECT_EQ(s->failover, FAILOVER_PRIO);	/* forced by delay */
	EXPECT_TRUE(has_notice(cfg, 1, "[s]: failover = rr has no effect "
				       "with delay = yes"));
	EXPECT_STREQ(s->local.v, "127.0.0.1");
	ASSERT_EQ(s->local_addrs.n, 1);
	EXPECT_EQ(family(&s->local_addrs, 0), AF_INET);
	EXPECT_EQ(s->ktls, KTLS_REQUIRED);
	ASSERT_EQ(s->ticket_key_len, 16);
	EXPECT_EQ(s->ticket_key[15], 0x0f);
	ASSERT_EQ(s->ticket_mac_len, 32);
	EXPECT_EQ(s->ticket_mac[10], 0x0a);
	EXPECT_EQ(s->ticket_mac[31], 0x1f);
	config_free(cfg);
}

TEST(bad_booleans)
{
	struct errs e;
	struct config *cfg = load(SERVER "reset = 1\nsyslog = on\n", &e);

	ASSERT_TRUE(cfg == NULL);
	EXPECT_ERR(&e, 5, "\"reset = 1\": The argument needs to be either "
			  "'yes' or 'no'");
	EXPECT_ERR(&e, 6, "\"syslog\": Specified option name is not valid "
			  "here");
	EXPECT_EQ(e.n, 2);
}

TEST(ranges)
{
	struct errs e;
	struct config *cfg = load("workers = 257\n"
				  "securityLevel = 6\n"
				  "TIMEOUTidle = -1\n"
				  "sessionCacheSize = 12x\n"
				  "sessionCacheTimeout =\n"
				  SERVER, &e);

	ASSERT_TRUE(cfg == NULL);
	EXPECT_ERR(&e, 1, "\"workers = 257\": Expected a number from 0 to "
			  "256");
	EXPECT_ERR(&e, 2, "\"securityLevel = 6\": Expected a number from 0 "
			  "to 5");
	EXPECT_ERR(&e, 3, "\"TIMEOUTidle = -1\": Expected a number from 0 to "
			  "2147483");
	EXPECT_ERR(&e, 4, "\"sessionCacheSize = 12x\": Expected a number "
			  "from 0 to 2147483647");
	EXPECT_ERR(&e, 5, "\"sessionCacheTimeout = \": Expected a number "
			  "from 0 to 2147483647");
	EXPECT_EQ(e.n, 5);
}

TEST(bad_keywords)
{
	struct errs e;
	struct config *cfg = load("log = rotate\n"
				  "ioEngine = uring\n"
				  "ioEngine = threads\n"
				  SERVER
				  "failover = random\n"
				  "ktls = maybe\n"
				  "sslVersion = TLSv2\n"
				  "sslVersionMin = SSLv3\n", &e);

	ASSERT_TRUE(cfg == NULL);
	EXPECT_ERR(&e, 1, "\"log = rotate\": Expected append or overwrite");
	EXPECT_ERR(&e, 3, "\"ioEngine = threads\": Expected auto, uring or "
			  "epoll");
	EXPECT_ERR(&e, 8, "\"failover = random\": Expected prio or rr");
	EXPECT_ERR(&e, 9, "\"ktls = maybe\": Expected auto, required or off");
	EXPECT_ERR(&e, 10, "\"sslVersion = TLSv2\": Expected all, SSLv3, "
			   "TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3");
#ifdef OPENSSL_NO_SSL3
	EXPECT_ERR(&e, 11, "\"sslVersionMin = SSLv3\": SSLv3 is not "
			   "supported by this OpenSSL build");
	EXPECT_EQ(e.n, 6);
#endif
}

TEST(transparent_options)
{
	struct errs e;
	struct config *cfg = load("tproxyMark = 0x10\n"
				  "tproxyTable = 200\n"
				  "[dst]\n"
				  "client = yes\n"
				  "accept = 127.0.0.1:0\n"
				  "transparent = destination\n"
				  "tproxy = auto\n"
				  "tproxyPort = 80,443\n"
				  "sniMap = 198.51.100.2  one.example\n"
				  "sniMap = 2001:db8::2 two.example\n"
				  "[both]\n"
				  "client = yes\n"
				  "accept = 127.0.0.1:0\n"
				  "transparent = both\n"
				  "[src]\n"
				  "accept = 127.0.0.1:0\n"
				  "connect = 127.0.0.1:9\n"
				  "cert = /nonexistent/cert.pem\n"
				  "transparent = yes\n"
				  "protocol = proxy-v2\n", &e);

	ASSERT_TRUE(cfg != NULL);
	EXPECT_EQ(e.n, 0);
	EXPECT_EQ(cfg->tproxy_mark, 0x10);
	EXPECT_EQ(cfg->tproxy_table, 200);
	EXPECT_EQ(cfg->services[0]->transparent, TRANSPARENT_DEST);
	EXPECT_EQ(cfg->services[0]->tproxy, TPROXY_AUTO);
	EXPECT_STREQ(cfg->services[0]->tproxy_port.v, "80,443");
	EXPECT_EQ(cfg->services[0]->sni_map.n, 2);
	EXPECT_EQ(cfg->services[1]->transparent,
		  TRANSPARENT_SOURCE | TRANSPARENT_DEST);
	EXPECT_EQ(cfg->services[1]->tproxy, TPROXY_NO);
	EXPECT_EQ(cfg->services[2]->transparent, TRANSPARENT_SOURCE);
	EXPECT_EQ(cfg->services[2]->proxy_proto, PROXY_V2);
	config_free(cfg);
}

TEST(transparent_errors)
{
	struct errs e;
	struct config *cfg = load("tproxyMark = 0\n"
				  "tproxyTable = 0x80000000\n"
				  "[a]\n"				/* 3 */
				  "accept = 127.0.0.1:0\n"
				  "connect = 127.0.0.1:9\n"
				  "client = yes\n"
				  "transparent = destination\n"
				  "tproxyPort = 443\n"			/* 8 */
				  "[b]\n"				/* 9 */
				  "accept = /tmp/ktlsd-test.sock\n"
				  "connect = 127.0.0.1:9\n"
				  "client = yes\n"
				  "tproxy = yes\n"
				  "transparent = source\n"
				  "local = 127.0.0.1\n"
				  "protocol = proxy\n"
				  "[c]\n"				/* 17 */
				  "accept = 127.0.0.1:0\n"
				  "connect = 127.0.0.1:9\n"
				  "client = yes\n"
				  "transparent = sideways\n"
				  "tproxy = maybe\n"
				  "tproxyPort = 0\n"
				  "tproxyPort = 80,x\n"
				  "sniMap = 192.0.2.1\n"			/* 25 */
				  "sniMap = host.example name.example\n"
				  "sniMap = 192.0.2.1 a b\n"
				  "[d]\n"				/* 28 */
				  "accept = 127.0.0.1:0\n"
				  "connect = 127.0.0.1:9\n"
				  "cert = /nonexistent/cert.pem\n"
				  "sniMap = 2001:db8::1 name.example\n", &e);

	ASSERT_TRUE(cfg == NULL);
	EXPECT_ERR(&e, 1, "\"tproxyMark = 0\": Expected a number from 1 to "
			  "2147483647 (or 0x1 to 0x7fffffff)");
	EXPECT_ERR(&e, 2, "\"tproxyTable = 0x80000000\": Expected a number "
			  "from 1 to 2147483647 (or 0x1 to 0x7fffffff)");
	/* a destination counts as an endpoint: three are one too many */
	EXPECT_ERR(&e, 3, "[a]: Each service must define two endpoints");
	EXPECT_ERR(&e, 8, "tproxyPort needs tproxy = yes or auto");
	EXPECT_ERR(&e, 9, "[b]: tproxy needs an IP accept address, not a Unix "
			  "socket");
	EXPECT_ERR(&e, 9, "[b]: 'local' and transparent = source both set the "
			  "source address: choose one");
	EXPECT_ERR(&e, 9, "[b]: protocol = proxy is for server mode (the PROXY "
			  "header goes to the plain server)");
	EXPECT_ERR(&e, 21, "\"transparent = sideways\": Expected none, no, "
			   "source, yes, destination or both");
	EXPECT_ERR(&e, 22, "\"tproxy = maybe\": Expected no, yes or auto");
	EXPECT_ERR(&e, 23, "\"tproxyPort = 0\": Expected ports from 1 to "
			   "65535, separated by commas: \"0\"");
	EXPECT_ERR(&e, 24, "\"tproxyPort = 80,x\": Expected ports from 1 to "
			   "65535, separated by commas: \"x\"");
	EXPECT_ERR(&e, 25, "\"sniMap = 192.0.2.1\": Expected an IP address, a "
			   "space and a server name");
	EXPECT_ERR(&e, 26, "\"sniMap = host.example name.example\": Expected "
			   "an IP address, a space and a server name");
	EXPECT_ERR(&e, 27, "\"sniMap = 192.0.2.1 a b\": Expected an IP "
			   "address, a space and a server name");
	EXPECT_ERR(&e, 32, "sniMap is for client mode (client = yes)");
}

TEST(version_min_above_max)
{
	struct errs e;
	struct config *cfg = load(SERVER "sslVersionMax = TLSv1.2\n"
				  "sslVersionMin = TLSv1.3\n", &e);

	ASSERT_ONE_ERR(cfg, &e, 6, "sslVersionMin is above sslVersionMax");
}

TEST(debug_levels_and_facility)
{
	struct errs e;
	struct config *cfg = load("debug = AUTHPRIV.Warning\n"
				  SERVER "debug = err\n"
				  "[t]\naccept = 127.0.0.1:0\nconnect = 9\n"
				  "cert = /c.pem\n", &e);

	ASSERT_TRUE(cfg != NULL);
	EXPECT_EQ(cfg->facility, LOG_AUTHPRIV);
	EXPECT_EQ(cfg->services[0]->debug_level, LOG_ERR);
	EXPECT_EQ(cfg->services[1]->debug_level, LOG_WARNING);
	config_free(cfg);

	cfg = load("debug = loud\ndebug = mars.info\ndebug = 8\n"
		   SERVER "debug = daemon.info\n", &e);
	ASSERT_TRUE(cfg == NULL);
	EXPECT_ERR(&e, 1, "\"debug = loud\": Unknown debug level; expected "
			  "emerg, alert, crit, err, warning, notice, info, "
			  "debug or 0-7");
	EXPECT_ERR(&e, 2, "\"debug = mars.info\": Unknown syslog facility");
	EXPECT_ERR(&e, 3, "\"debug = 8\": Unknown debug level; expected "
			  "emerg, alert, crit, err, warning, notice, info, "
			  "debug or 0-7");
	EXPECT_ERR(&e, 8, "\"debug = daemon.info\": A syslog facility can "
			  "only be set in the global part");
	EXPECT_EQ(e.n, 4);
}

TEST(ssl_options)
{
	struct errs e;
	struct config *cfg = load("options = NO_TICKET\n"
				  SERVER "options = -no_ticket\n"
				  "options = BOGUS\n", &e);

	ASSERT_ONE_ERR(cfg, &e, 7, "\"options = BOGUS\": Unknown TLS option "
				   "(ktlsd -options lists them)");
	EXPECT_EQ(config_ssl_option("NO_TICKET"), SSL_OP_NO_TICKET);
	EXPECT_EQ(config_ssl_option("enable_ktls"), SSL_OP_ENABLE_KTLS);
	EXPECT_EQ(config_ssl_option("NO_SSLv2"), 0);
	EXPECT_EQ(config_ssl_option("SSL_OP_NO_TICKET"), 0);

	cfg = load("options = NO_TICKET\n" SERVER "options = -NO_TICKET\n",
		   &e);
	ASSERT_TRUE(cfg != NULL);
	EXPECT_EQ(cfg->defaults.options_set, SSL_OP_NO_TICKET |
					     SSL_OP_NO_SSLv3);
	EXPECT_EQ(cfg->services[0]->options_set, SSL_OP_NO_SSLv3);
	EXPECT_EQ(cfg->services[0]->options_clear, SSL_OP_NO_TICKET);
	config_free(cfg);
}

TEST(ticket_secrets)
{
	struct errs e;
	struct config *cfg = load(SERVER
				  "ticketKeySecret = 0011223344556677889900"
				  "11223344\n"
				  "ticketMacSecret = 00112233445566778899aabb"
				  "ccddeeXX\n"
				  "ticketKeySecret = 0\n"
				  "ticketMacSecret = 00:11:22:33:44:55:66:77:"
				  "88:99:aa:bb:cc:dd:ee:ff:00\n", &e);

	ASSERT_TRUE(cfg == NULL);
	EXPECT_ERR(&e, 5, "\"ticketKeySecret = 00112233445566778899001122334"
			  "4\": Expected 16 or 32 bytes in hex, got 30 hex "
			  "digits");
	EXPECT_ERR(&e, 6, "\"ticketMacSecret = 00112233445566778899aabbccddee"
			  "XX\": Invalid hexadecimal digit");
	EXPECT_ERR(&e, 7, "\"ticketKeySecret = 0\": Expected 16 or 32 bytes "
			  "in hex, got 1 hex digit");
	EXPECT_CONTAINS(e.buf, ":8: \"ticketMacSecret = 00:11:22:33:44:55:66:"
			       "77:88:99:aa:bb:cc:dd:ee:ff:00\": Expected 16 "
			       "or 32 bytes in hex, got 34 hex digits");
	EXPECT_EQ(e.n, 4);
}

TEST(socket_options)
{
	struct errs e;
	struct config *cfg = load("socket = a:SO_KEEPALIVE=yes\n"
				  SERVER
				  "socket = l:SO_LINGER=1:10\n"
				  "socket = r:SO_RCVTIMEO=5:500\n"
				  "socket = r:SO_BINDTODEVICE=lo\n"
				  "socket = L:tcp_nodelay=no\n"
				  "socket = r:IP_TOS=16\n"
				  "socket = a:IPV6_V6ONLY=1\n", &e);
	struct service *s;
	size_t i;
	int seen = 0;

	ASSERT_TRUE(cfg != NULL);
	s = cfg->services[0];
	/* 3 defaults + keepalive + 5 new; l:TCP_NODELAY replaced in place */
	ASSERT_EQ(s->n_sockopts, 9);
	EXPECT_EQ(s->sockopts[1].side, 'l');
	EXPECT_EQ(s->sockopts[1].u.i, 0);
	EXPECT_EQ(s->sockopts[1].at.line, 9);
	for (i = 0; i < s->n_sockopts; i++) {
		struct sockopt_val *v = &s->sockopts[i];

		if (v->name == SO_KEEPALIVE && v->level == SOL_SOCKET) {
			EXPECT_EQ(v->side, 'a');
			EXPECT_EQ(v->type, SOV_FLAG);
			EXPECT_EQ(v->u.i, 1);
			seen |= 1;
		} else if (v->name == SO_LINGER) {
			EXPECT_EQ(v->type, SOV_LINGER);
			EXPECT_EQ(v->u.linger.l_onoff, 1);
			EXPECT_EQ(v->u.linger.l_linger, 10);
			seen |= 2;
		} else if (v->name == SO_RCVTIMEO) {
			EXPECT_EQ(v->type, SOV_TIMEVAL);
			EXPECT_EQ(v->u.tv.tv_sec, 5);
			EXPECT_EQ(v->u.tv.tv_usec, 500);
			seen |= 4;
		} else if (v->name == SO_BINDTODEVICE) {
			EXPECT_STREQ(v->u.str, "lo");
			seen |= 8;
		} else if (v->level == IPPROTO_IP && v->name == IP_TOS) {
			EXPECT_EQ(v->type, SOV_INT);
			EXPECT_EQ(v->u.i, 16);
			seen |= 16;
		} else if (v->level == IPPROTO_IPV6) {
			EXPECT_EQ(v->name, IPV6_V6ONLY);
			EXPECT_EQ(v->u.i, 1);
			seen |= 32;
		}
	}
	EXPECT_EQ(seen, 63);
	config_free(cfg);
}

TEST(socket_option_errors)
{
	struct errs e;
	struct config *cfg = load(SERVER
				  "socket = x:SO_KEEPALIVE=yes\n"
				  "socket = a:SO_BOGUS=1\n"
				  "socket = a:IP_BINDANY=yes\n"
				  "socket = a:SO_RCVBUF=big\n"
				  "socket = a:SO_KEEPALIVE=maybe\n"
				  "socket = l:SO_LINGER=yes:x\n"
				  "socket = r:SO_SNDTIMEO=1:1000000\n"
				  "socket = r:SO_BINDTODEVICE=\n"
				  "socket = a:SO_KEEPALIVE\n", &e);

	ASSERT_TRUE(cfg == NULL);
	EXPECT_ERR(&e, 5, "\"socket = x:SO_KEEPALIVE=yes\": Expected "
			  "a|l|r:OPTION=VALUE (a: the listening socket, l: "
			  "the accepted one, r: the one to the server)");
	EXPECT_ERR(&e, 6, "\"socket = a:SO_BOGUS=1\": Unknown socket option "
			  "\"SO_BOGUS\" (ktlsd -sockets lists them)");
	EXPECT_ERR(&e, 7, "\"socket = a:IP_BINDANY=yes\": IP_BINDANY is "
			  "BSD-only; on Linux use IP_FREEBIND (binding to an "
			  "address not yet configured) or transparent = "
			  "source (#5)");
	EXPECT_ERR(&e, 8, "\"socket = a:SO_RCVBUF=big\": Expected a number");
	EXPECT_ERR(&e, 9, "\"socket = a:SO_KEEPALIVE=maybe\": The argument "
			  "needs to be either 'yes' or 'no' (or a number)");
	EXPECT_ERR(&e, 10, "\"socket = l:SO_LINGER=yes:x\": Expected "
			   "ONOFF:SECONDS, e.g. yes:10");
	EXPECT_ERR(&e, 11, "\"socket = r:SO_SNDTIMEO=1:1000000\": Expected "
			   "SECONDS[:MICROSECONDS]");
	EXPECT_ERR(&e, 12, "\"socket = r:SO_BINDTODEVICE=\": Expected an "
			   "interface name");
	EXPECT_ERR(&e, 13, "\"socket = a:SO_KEEPALIVE\": Expected "
			   "a|l|r:OPTION=VALUE (a: the listening socket, l: "
			   "the accepted one, r: the one to the server)");
	EXPECT_EQ(e.n, 9);
}

TEST(aliases)
{
	struct errs e;
	struct config *cfg = load("curve = P-256\nsession = 42\n" SERVER, &e);

	ASSERT_TRUE(cfg != NULL);
	EXPECT_STREQ(cfg->services[0]->curves.v, "P-256");
	EXPECT_EQ(cfg->services[0]->session_cache_timeout, 42);
	config_free(cfg);

	cfg = load("curve =\nsession = x\n" SERVER, &e);
	ASSERT_TRUE(cfg == NULL);
	/* messages quote the name as written */
	EXPECT_ERR(&e, 2, "\"session = x\": Expected a number from 0 to "
			  "2147483647");
	EXPECT_EQ(e.n, 1);
}

TEST(users_groups_status_local)
{
	struct errs e;
	struct config *cfg = load("setuid = no-such-user-ktlsd\n"
				  "setgid = no-such-group-ktlsd\n"
				  "status = 127.0.0.1:99999\n"
				  "status = 127.0.0.1:\n"
				  "status = 127.0.0.1:no-such-service-ktlsd\n"
				  SERVER "local = /tmp/x\n"
				  "local = nothing.ktlsd.invalid\n", &e);

	ASSERT_TRUE(cfg == NULL);
	EXPECT_ERR(&e, 1, "\"setuid = no-such-user-ktlsd\": No such user");
	EXPECT_ERR(&e, 2, "\"setgid = no-such-group-ktlsd\": No such group");
	EXPECT_ERR(&e, 3, "\"status = 127.0.0.1:99999\": Invalid port "
			  "\"99999\"");
	EXPECT_ERR(&e, 4, "\"status = 127.0.0.1:\": No port given");
	EXPECT_ERR(&e, 5, "\"status = 127.0.0.1:no-such-service-ktlsd\": "
			  "Unknown service name \"no-such-service-ktlsd\"");
	EXPECT_ERR(&e, 10, "\"local = /tmp/x\": Expected a host name or an IP "
			   "address");
	/* the reason comes from the resolver, in libc's words */
	EXPECT_CONTAINS(e.buf, ":11: \"local = nothing.ktlsd.invalid\": "
			       "Error resolving \"nothing.ktlsd.invalid\": ");
	EXPECT_EQ(e.n, 7);
}

TEST(no_effect_options_give_notices)
{
	struct errs e;
	struct config *cfg = load("RNDfile = /dev/urandom\nRNDbytes = 64\n"
				  "RNDoverwrite = yes\nEGD = /x\n"
				  SERVER "stack = 65536\n", &e);

	ASSERT_TRUE(cfg != NULL);
	EXPECT_EQ(cfg->notices.n, 5);
	EXPECT_TRUE(has_notice(cfg, 1, "option 'RNDfile' has no effect in "
				       "ktlsd (OpenSSL 3 seeds itself from "
				       "the kernel)"));
	EXPECT_TRUE(has_notice(cfg, 9, "option 'stack' has no effect in "
				       "ktlsd (connections do not run on "
				       "threads of their own)"));
	config_free(cfg);
}

TEST(not_supported_yet_and_windows)
{
	struct errs e;
	struct config *cfg = load("engine = auto\n"
				  "TaskBar = no\n"
				  "iconIdle = x.ico\n"
				  "fips = no\n"
				  SERVER
				  "EXEC = /bin/cat\n"
				  "retry = yes\n"
				  "protocol = smtp\n"
				  "OCSPaia = yes\n"
				  "verify = 2\n"
				  "libwrap = no\n", &e);

	ASSERT_TRUE(cfg == NULL);
	EXPECT_ERR(&e, 1, "option 'engine' is not supported yet");
	EXPECT_ERR(&e, 2, "option 'taskbar' is only available on Windows");
	EXPECT_ERR(&e, 3, "option 'iconIdle' is only available on Windows");
	EXPECT_ERR(&e, 4, "option 'fips' is not supported yet");
	EXPECT_ERR(&e, 9, "option 'exec' is not supported yet");
	EXPECT_ERR(&e, 10, "option 'retry' is not supported yet");
	EXPECT_ERR(&e, 11, "\"protocol = smtp\": protocol 'smtp' is not "
			   "supported yet (built: proxy, proxy-v2)");
	EXPECT_ERR(&e, 12, "option 'OCSPaia' is not supported yet");
	EXPECT_ERR(&e, 13, "option 'verify' is not supported yet");
	EXPECT_ERR(&e, 14, "option 'libwrap' is not supported yet");
	EXPECT_EQ(e.n, 10);
}

/* ---- endpoints, inetd mode, addresses ----------------------------------- */

TEST(endpoint_rule)
{
	struct errs e;
	struct config *cfg = load("cert = /c.pem\n"
				  "[one]\naccept = 127.0.0.1:0\n"
				  "[none]\n"
				  "[three]\naccept = 127.0.0.1:0\n"
				  "connect = 9\nconnect = 10\n"
				  "[ok]\naccept = 127.0.0.1:0\n"
				  "connect = 9\nconnect = 10\n", &e);

	ASSERT_TRUE(cfg == NULL);
	EXPECT_ERR(&e, 2, "[one]: Each service must define two endpoints");
	EXPECT_ERR(&e, 4, "[none]: Each service must define two endpoints");
	EXPECT_EQ(e.n, 2);	/* many connect lines count once */
}

TEST(inetd_mode)
{
	struct errs e;
	struct config *cfg = load("client = yes\nconnect = 127.0.0.1:993\n"
				  "service = imaps\n", &e);

	ASSERT_TRUE(cfg != NULL);
	EXPECT_TRUE(cfg->inetd);
	EXPECT_EQ(cfg->n_services, 0);
	EXPECT_EQ(cfg->defaults.connect_addrs.n, 1);
	EXPECT_STREQ(cfg->defaults.sni_name, "127.0.0.1");
	EXPECT_STREQ(cfg->defaults.service_name, "imaps");
	config_free(cfg);

	cfg = load("client = yes\n\n", &e);
	ASSERT_ONE_ERR(cfg, &e, 2, "Inetd mode must define one endpoint");

	cfg = load("accept = 127.0.0.1:0\nconnect = 9\ncert = /c.pem\n", &e);
	ASSERT_ONE_ERR(cfg, &e, 1, "\"accept = 127.0.0.1:0\": 'accept' option "
				   "is only allowed in a [section]");

	/* server mode needs a certificate in inetd mode too */
	cfg = load("connect = 9\n", &e);
	ASSERT_ONE_ERR(cfg, &e, 1, "A TLS server needs a certificate: set "
				   "'cert' (or client = yes)");
}

TEST(accept_in_global_part_with_sections)
{
	struct errs e;
	struct config *cfg = load("accept = 127.0.0.1:0\n" SERVER, &e);

	ASSERT_ONE_ERR(cfg, &e, 1, "\"accept = 127.0.0.1:0\": 'accept' option "
				   "is only allowed in a [section]");
}

TEST(address_errors)
{
	struct errs e;
	struct config *cfg = load("cert = /c.pem\n"
				  "[s]\naccept = 127.0.0.1:70000\n"
				  "accept = \nconnect = 127.0.0.1:0\n"
				  "connect = 127.0.0.1:\n", &e);

	ASSERT_TRUE(cfg == NULL);
	EXPECT_ERR(&e, 3, "\"accept = 127.0.0.1:70000\": Invalid port "
			  "\"70000\"");
	EXPECT_ERR(&e, 4, "\"accept = \": Empty address");
	EXPECT_ERR(&e, 5, "\"connect = 127.0.0.1:0\": Invalid port \"0\"");
	EXPECT_ERR(&e, 6, "\"connect = 127.0.0.1:\": No port given");
	EXPECT_EQ(e.n, 4);
}

TEST(delay_switched_on_when_connect_does_not_resolve)
{
	struct errs e;
	struct config *cfg = load(SERVER "connect = backend.ktlsd.invalid:443\n"
				  "[d]\naccept = 127.0.0.1:0\ndelay = yes\n"
				  "connect = other.ktlsd.invalid:443\n"
				  "cert = /c.pem\n", &e);

	ASSERT_TRUE(cfg != NULL);
	EXPECT_EQ(cfg->services[0]->delay, 1);
	EXPECT_EQ(cfg->services[0]->connect.n, 2);
	EXPECT_EQ(cfg->services[0]->connect_addrs.n, 0);
	EXPECT_TRUE(has_notice(cfg, 5, "cannot resolve \"backend.ktlsd."
				       "invalid:443\" now; delay = yes "
				       "switched on"));
	/* explicit delay: nothing resolved, nothing to say */
	EXPECT_EQ(cfg->services[1]->delay, 1);
	EXPECT_EQ(cfg->services[1]->connect_addrs.n, 0);
	EXPECT_EQ(cfg->notices.n, 1);
	config_free(cfg);
}

TEST(ipv6_literals_and_unix_paths)
{
	struct errs e;
	char text[512], sock[200];
	struct config *cfg;
	struct service *s;
	const struct sockaddr_un *un;

	snprintf(sock, sizeof(sock), "%s/backend.sock", tdir());
	snprintf(text, sizeof(text),
		 "cert = /c.pem\n[v6]\naccept = :::0\nconnect = ::1:443\n"
		 "[unix]\naccept = %s/front.sock\nconnect = %s\n", tdir(),
		 sock);
	cfg = load(text, &e);
	ASSERT_TRUE(cfg != NULL);
	s = cfg->services[0];
	ASSERT_EQ(s->accept_addrs.n, 1);
	EXPECT_EQ(family(&s->accept_addrs, 0), AF_INET6);
	ASSERT_EQ(s->connect_addrs.n, 1);
	EXPECT_EQ(family(&s->connect_addrs, 0), AF_INET6);
	EXPECT_EQ(ntohs(((struct sockaddr_in6 *)&s->connect_addrs.a[0].ss)
				->sin6_port), 443);
	s = cfg->services[1];
	ASSERT_EQ(s->accept_addrs.n, 1);
	EXPECT_EQ(family(&s->accept_addrs, 0), AF_UNIX);
	ASSERT_EQ(s->connect_addrs.n, 1);
	un = (const struct sockaddr_un *)&s->connect_addrs.a[0].ss;
	EXPECT_STREQ(un->sun_path, sock);
	config_free(cfg);
}

/* ---- SNI ---------------------------------------------------------------- */

TEST(sni_primary_and_secondaries)
{
	struct errs e;
	struct config *cfg = load("cert = /c.pem\n"
				  "[web]\naccept = 127.0.0.1:0\nconnect = 9\n"
				  "[a]\nsni = web:a.example\nconnect = 10\n"
				  "[b]\nsni = web:*.b.example\nconnect = 11\n"
				  "cert = /b.pem\n", &e);
	struct service *web, *a, *b;

	ASSERT_TRUE(cfg != NULL);
	ASSERT_EQ(cfg->n_services, 3);
	web = cfg->services[0];
	a = cfg->services[1];
	b = cfg->services[2];
	EXPECT_TRUE(web->sni_primary == NULL);
	ASSERT_EQ(web->n_sni_children, 2);
	EXPECT_TRUE(web->sni_children[0] == a);
	EXPECT_TRUE(web->sni_children[1] == b);
	EXPECT_TRUE(a->sni_primary == web);
	EXPECT_STREQ(a->sni_pattern, "a.example");
	EXPECT_STREQ(b->sni_pattern, "*.b.example");
	EXPECT_STREQ(b->cert.v, "/b.pem");
	EXPECT_TRUE(a->sni_name == NULL);
	config_free(cfg);
}

TEST(sni_last_line_wins)
{
	struct errs e;
	struct config *cfg = load("cert = /c.pem\n"
				  "[web]\naccept = 127.0.0.1:0\nconnect = 9\n"
				  "[a]\nsni = web:first.example\n"
				  "sni = web:second.example\nconnect = 10\n",
				  &e);

	ASSERT_TRUE(cfg != NULL);
	EXPECT_STREQ(cfg->services[1]->sni_pattern, "second.example");
	EXPECT_EQ(cfg->services[0]->n_sni_children, 1);
	config_free(cfg);
}

TEST(sni_errors)
{
	struct errs e;
	struct config *cfg = load("cert = /c.pem\n"
				  "[cli]\nclient = yes\naccept = 127.0.0.1:0\n"
				  "connect = 9\n"
				  "[web]\naccept = 127.0.0.1:0\nconnect = 9\n"
				  "[a]\nsni = nowhere:x\nconnect = 10\n"
				  "[b]\nsni = cli:x\nconnect = 10\n"
				  "[c]\nsni = web:x\nconnect = 10\n"
				  "accept = 127.0.0.1:0\n"
				  "[d]\nsni = web:x\nconnect = 10\n"
				  "client = yes\n"
				  "[e]\nsni = webx\nconnect = 10\n", &e);

	ASSERT_TRUE(cfg == NULL);
	EXPECT_ERR(&e, 10, "\"sni = nowhere:x\": No [nowhere] section for "
			   "this SNI secondary");
	EXPECT_ERR(&e, 13, "\"sni = cli:x\": SNI primary service is a TLS "
			   "client");
	EXPECT_ERR(&e, 15, "[c]: An SNI secondary section (sni = "
			   "PRIMARY:PATTERN) cannot have 'accept'");
	EXPECT_ERR(&e, 20, "\"sni = web:x\": An SNI secondary section cannot "
			   "be a TLS client (client = yes)");
	EXPECT_ERR(&e, 24, "\"sni = webx\": Expected PRIMARY:PATTERN in "
			   "server mode");
	/* [d] is a client, so its sni is a name: one endpoint only */
	EXPECT_ERR(&e, 19, "[d]: Each service must define two endpoints");
	EXPECT_EQ(e.n, 6);
}

TEST(sni_client_mode)
{
	struct errs e;
	struct config *cfg = load("client = yes\n"
				  "[default-host]\naccept = 127.0.0.1:0\n"
				  "connect = localhost.ktlsd.invalid:443\n"
				  "delay = yes\n"
				  "[port-only]\naccept = 127.0.0.1:0\n"
				  "connect = 9\n"
				  "[set]\naccept = 127.0.0.1:0\nconnect = 9\n"
				  "sni = www.example.org\n"
				  "[none]\naccept = 127.0.0.1:0\nconnect = 9\n"
				  "sni =\n", &e);

	ASSERT_TRUE(cfg != NULL);
	EXPECT_STREQ(cfg->services[0]->sni_name, "localhost.ktlsd.invalid");
	EXPECT_STREQ(cfg->services[1]->sni_name, "localhost");
	EXPECT_STREQ(cfg->services[2]->sni_name, "www.example.org");
	EXPECT_TRUE(cfg->services[3]->sni_name == NULL);
	EXPECT_STREQ(cfg->services[3]->sni.v, "");
	config_free(cfg);

	cfg = load("client = yes\n[x]\naccept = 127.0.0.1:0\nconnect = 9\n"
		   "sni = a:b\n", &e);
	ASSERT_ONE_ERR(cfg, &e, 5, "\"sni = a:b\": A server name cannot "
				   "contain ':'");
}

TEST(server_needs_cert_and_verify_needs_ca)
{
	struct errs e;
	struct config *cfg = load("[s]\naccept = 127.0.0.1:0\nconnect = 9\n"
				  "[v]\naccept = 127.0.0.1:0\nconnect = 9\n"
				  "cert = /c.pem\nverifyPeer = yes\n"
				  "[c]\nclient = yes\naccept = 127.0.0.1:0\n"
				  "connect = 9\n", &e);

	ASSERT_TRUE(cfg == NULL);
	EXPECT_ERR(&e, 1, "[s]: A TLS server needs a certificate: set 'cert' "
			  "(or client = yes)");
	EXPECT_ERR(&e, 4, "[v]: verifyChain and verifyPeer need CAfile or "
			  "CApath");
	EXPECT_EQ(e.n, 2);
}

TEST(duplicate_section_names_give_a_notice)
{
	struct errs e;
	struct config *cfg = load(SERVER SERVER, &e);

	ASSERT_TRUE(cfg != NULL);
	EXPECT_EQ(cfg->n_services, 2);
	ASSERT_EQ(cfg->notices.n, 1);
	EXPECT_CONTAINS(cfg->notices.v[0].v, ":5: [s]: section name also "
					     "used at ");
	config_free(cfg);
}

/* ---- printers ----------------------------------------------------------- */

static char *capture(void (*fn)(FILE *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fn(f);
	fclose(f);
	return buf;
}

/* Every option of STUNNEL-COMPAT.md sections 3.1 and 3.2. */
static const char *const stunnel_options[] = {
	"chroot", "compression", "debug", "EGD", "engine", "engineCtrl",
	"engineDefault", "fips", "foreground", "iconActive", "iconError",
	"iconIdle", "log", "output", "pid", "provider", "providerParameter",
	"RNDbytes", "RNDfile", "RNDoverwrite", "setEnv", "syslog", "taskbar",
	"setuid", "setgid", "service", "accept", "CAengine", "CApath",
	"CAfile", "CAstore", "cert", "checkEmail", "checkHost", "checkIP",
	"ciphers", "ciphersuites", "client", "config", "connect", "CRLpath",
	"CRLfile", "curves", "curve", "delay", "engineId", "engineNum",
	"exec", "execArgs", "failover", "ident", "include", "key", "libwrap",
	"local", "logId", "OCSP", "OCSPaia", "OCSPflag", "OCSPnonce",
	"OCSPrequire", "options", "protocol", "protocolAuthentication",
	"protocolDomain", "protocolHeader", "protocolHost",
	"protocolPassword", "protocolUsername", "PSKidentity", "PSKsecrets",
	"pty", "redirect", "renegotiation", "requireCert", "reset", "retry",
	"securityLevel", "sessionCacheSize", "sessionCacheTimeout",
	"session", "sessionResume", "sessiond", "sni", "socket",
	"sslVersion", "sslVersionMax", "sslVersionMin", "stack",
	"ticketKeySecret", "ticketMacSecret", "TIMEOUTbusy", "TIMEOUTclose",
	"TIMEOUTconnect", "TIMEOUTidle", "TIMEOUTocsp", "transparent",
	"verify", "verifyChain", "verifyPeer",
	/* ktlsd's own */
	"ktls", "ioEngine", "workers", "status", "tproxy", "tproxyPort",
	"tproxyMark", "tproxyTable", "sniMap",
};

TEST(help_and_markdown_list_every_option)
{
	char *help = capture(config_print_help);
	char *md = capture(config_print_markdown);
	size_t i;

	for (i = 0; i < ARRAY_SIZE(stunnel_options); i++) {
		char want[64];

		snprintf(want, sizeof(want), "\n  %s ", stunnel_options[i]);
		EXPECT_CONTAINS(help, want);
		snprintf(want, sizeof(want), "| `%s` |", stunnel_options[i]);
		EXPECT_CONTAINS(md, want);
	}
	EXPECT_CONTAINS(md, "| `transparent` | service | "
			    "`none\\|source\\|destination\\|both\\|yes\\|no` | "
			    "`none` | yes | built |");
	EXPECT_CONTAINS(md, "| `exec` | service | `PATH` | – | – | later |");
	EXPECT_CONTAINS(md, "| `chroot` | global | `DIR` | – | no | built |");
	EXPECT_CONTAINS(md, "| `TIMEOUTidle` | service | `SECONDS` | `43200` "
			    "| yes | built |");
	EXPECT_CONTAINS(help, "exec = PATH");
	EXPECT_CONTAINS(help, "[not supported yet]");
	free(help);
	free(md);
}

TEST(every_stunnel_option_is_known)
{
	struct errs e;
	size_t i;

	/* a known option never gets "not a valid option", whatever its
	 * status or value */
	for (i = 0; i < ARRAY_SIZE(stunnel_options); i++) {
		char text[128];
		struct config *cfg;

		snprintf(text, sizeof(text), "%s = x\n", stunnel_options[i]);
		cfg = load(text, &e);
		config_free(cfg);
		if (strstr(e.buf, "not a valid option"))
			HARNESS_FAIL(0, "%s", e.buf);
	}
}

TEST(ssl_options_and_sockets_printers)
{
	char *opts = capture(config_print_ssl_options);
	char *socks = capture(config_print_sockets);

	EXPECT_CONTAINS(opts, "\nNO_TICKET\n");
	EXPECT_CONTAINS(opts, "\nENABLE_KTLS\n");
	EXPECT_CONTAINS(opts, "\nCIPHER_SERVER_PREFERENCE\n");
	EXPECT_CONTAINS(opts, "\nNO_SSLv2\n");
	EXPECT_CONTAINS(socks, "SO_REUSEADDR    |       yes|        --|"
			       "        --|");
	EXPECT_CONTAINS(socks, "TCP_NODELAY     |        --|       yes|"
			       "       yes|");
	EXPECT_CONTAINS(socks, "SO_LINGER ");
	EXPECT_FALSE(strstr(socks, "BINDANY"));
	free(opts);
	free(socks);
}

TEST(free_null)
{
	config_free(NULL);
}

TEST_MAIN()
