/* SPDX-License-Identifier: MIT */
/*
 * test_tls.c - tls.c: contexts built from hand-made services, their
 * errors at file:line, and real in-process handshakes over a socketpair
 * between a client-mode and a server-mode service.
 *
 * The keys and certificates are made once per run with the openssl CLI
 * in a temporary directory (EC P-256, so it takes well under a second).
 */
#include "../harness.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls.h"

static char fixture_dir[] = "/tmp/test_tls.XXXXXX";
static int fixture_ok;
static char reports[8192];

static const char fixture_script[] =
	"set -e; cd \"$1\"\n"
	"k() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out \"$1\"; }\n"
	"ca() { k $1.key; openssl req -x509 -new -key $1.key -subj \"/CN=$2\" -days 30 -out $1.pem; }\n"
	"leaf() {\n"
	"  k $1.key\n"
	"  openssl req -new -key $1.key -subj \"/CN=$2\" -out $1.csr\n"
	"  printf 'subjectAltName=%s\\n' \"$3\" > $1.ext\n"
	"  openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
	"    -days 30 -extfile $1.ext -out $1.pem\n"
	"}\n"
	"ca ca 'Test CA'; ca ca2 'Other CA'\n"
	"leaf server server.test DNS:server.test\n"
	"leaf client client.test DNS:client.test\n"
	"leaf sni www.sni.test 'DNS:*.sni.test'\n"
	"k other.key\n"
	"cat server.pem server.key > combined.pem\n"
	"openssl pkcs12 -export -in server.pem -inkey server.key -certfile ca.pem"
	"  -passout pass: -out server.p12\n"
	"printf '[ca]\\ndefault_ca=d\\n[d]\\ndatabase=index.txt\\n"
	"default_md=sha256\\ndefault_crl_days=30\\n' > ca.cnf; touch index.txt\n"
	"crl() { openssl ca -config ca.cnf -gencrl -keyfile ca.key -cert ca.pem -out $1; }\n"
	"crl crl-empty.pem\n"
	"openssl ca -config ca.cnf -revoke server.pem -keyfile ca.key -cert ca.pem\n"
	"crl crl.pem\n"
	"mkdir crldir; cp crl.pem crldir/; openssl rehash crldir\n";

static void fixture_cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", fixture_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# cannot remove %s\n", fixture_dir);
}

/* In the harness process, before any test is forked. */
__attribute__((constructor)) static void fixture_make(void)
{
	char cmd[sizeof(fixture_script) + 128];

	if (!mkdtemp(fixture_dir))
		return;
	atexit(fixture_cleanup);
	snprintf(cmd, sizeof(cmd), "sh -c '%s' sh %s >/dev/null 2>&1",
		 "eval \"$FIXTURE\"", fixture_dir);
	setenv("FIXTURE", fixture_script, 1);
	fixture_ok = system(cmd) == 0;
	unsetenv("FIXTURE");
	tls_global_init();
}

static char *path(const char *name)
{
	char *p;

	if (!fixture_ok)
		SKIP("cannot make certificates with the openssl CLI");
	if (asprintf(&p, "%s/%s", fixture_dir, name) < 0)
		abort();
	return p;
}

/* ---- hand-made configuration ---------------------------------------- */

static void set(struct sval *o, const char *v, int line)
{
	o->v = strdup(v);
	o->at.file = "test.conf";
	o->at.line = line;
}

static void add(struct slist *l, const char *v)
{
	l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
	memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
	set(&l->v[l->n++], v, 50);
}

static struct service *svc_new(const char *name, int client)
{
	struct service *s = calloc(1, sizeof(*s));

	s->name = strdup(name);
	s->at.file = "test.conf";
	s->at.line = 1;
	s->client = client;
	s->security_level = -1;
	s->renegotiation = 1;
	s->session_resume = 1;
	s->session_cache_size = 1000;
	s->session_cache_timeout = 300;
	s->debug_level = 7;
	return s;
}

static struct service *server_svc(const char *name)
{
	struct service *s = svc_new(name, 0);

	set(&s->cert, path("server.pem"), 10);
	set(&s->key, path("server.key"), 11);
	return s;
}

static void collect(void *arg, const char *msg)
{
	(void)arg;
	strncat(reports, msg, sizeof(reports) - strlen(reports) - 2);
	strcat(reports, "\n");
}

/* A configuration of the NULL-terminated services, TLS-initialised. */
static struct config *cfg_init(int *rc, ...)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct service *s;
	va_list ap;

	va_start(ap, rc);
	while ((s = va_arg(ap, struct service *))) {
		cfg->services = realloc(cfg->services,
			(cfg->n_services + 1) * sizeof(*cfg->services));
		cfg->services[cfg->n_services++] = s;
	}
	va_end(ap);
	reports[0] = '\0';
	*rc = tls_config_init(cfg, collect, NULL);
	return cfg;
}

static struct config *cfg_ok(struct service *a, struct service *b,
			     struct service *c)
{
	struct config *cfg;
	int rc;

	cfg = cfg_init(&rc, a, b, c, (struct service *)NULL);
	if (rc != 0)
		HARNESS_FAIL(1, "tls_config_init: %s", reports);
	return cfg;
}

/* ---- handshakes ----------------------------------------------------- */

struct pair {
	SSL *c, *s;
	int ok_c, ok_s;		/* 1 done, -1 failed */
	int clean;		/* pair_free(): the server side ended well */
};

static void step(SSL *ssl, int *st)
{
	int r = SSL_do_handshake(ssl), e;

	if (r == 1) {
		*st = 1;
		return;
	}
	e = SSL_get_error(ssl, r);
	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
		*st = -1;
}

static struct addr target_addr(void)
{
	struct addr a;
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;

	memset(&a, 0, sizeof(a));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(443);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.len = sizeof(*sin);
	return a;
}

/* Handshake CLI against SRV; both SSLs stay in P for inspection. */
static int handshake(struct service *cli, struct service *srv, struct pair *p)
{
	struct addr target = target_addr();
	int fds[2], i;
	char b;

	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) < 0)
		HARNESS_FAIL(1, "socketpair: %s", strerror(errno));
	p->c = tls_conn_new(cli, 1, &target);
	p->s = tls_conn_new(srv, 2, NULL);
	ASSERT_TRUE(p->c && p->s);
	SSL_set_fd(p->c, fds[0]);
	SSL_set_fd(p->s, fds[1]);
	for (i = 0; i < 200 && (!p->ok_c || !p->ok_s); i++) {
		if (!p->ok_c)
			step(p->c, &p->ok_c);
		if (!p->ok_s)
			step(p->s, &p->ok_s);
	}
	if (p->ok_c == 1 && p->ok_s == 1) {
		/* TLS 1.3: take in the NewSessionTickets, then save */
		if (SSL_read(p->c, &b, 1) > 0)
			HARNESS_FAIL(1, "unexpected application data");
		tls_conn_save_session(p->c, &target);
	}
	ERR_clear_error();
	return p->ok_c == 1 && p->ok_s == 1 ? 0 : -1;
}

static void pair_free(struct pair *p)
{
	close(SSL_get_fd(p->c));
	close(SSL_get_fd(p->s));
	/* as after kTLS: OpenSSL never sees the end */
	tls_conn_free(p->c, 0);
	tls_conn_free(p->s, p->clean);
}

/* CN of the certificate the client got. */
static const char *peer_cn(SSL *ssl)
{
	static char cn[256];
	X509 *x = SSL_get1_peer_certificate(ssl);

	cn[0] = '\0';
	if (x) {
		X509_NAME_get_text_by_NID(X509_get_subject_name(x),
					  NID_commonName, cn, sizeof(cn));
		X509_free(x);
	}
	return cn;
}

/* ---- contexts ------------------------------------------------------- */

TEST(cert_and_key_load)
{
	struct service *s = server_svc("a"), *b = svc_new("b", 0);
	struct config *cfg;
	int rc;

	set(&b->cert, path("combined.pem"), 20); /* key defaults to cert */
	cfg = cfg_init(&rc, s, b, (struct service *)NULL);
	EXPECT_EQ(rc, 0);
	EXPECT_STREQ(reports, "");
	ASSERT_TRUE(s->tls && b->tls);
	tls_config_free(cfg);
	EXPECT_TRUE(s->tls == NULL);
	tls_config_free(cfg);	/* idempotent */
}

TEST(key_mismatch_reported_at_key_line)
{
	struct service *s = server_svc("a");
	struct config *cfg;
	char want[256];
	int rc;

	set(&s->key, path("other.key"), 12);
	cfg = cfg_init(&rc, s, (struct service *)NULL);
	EXPECT_EQ(rc, -1);
	snprintf(want, sizeof(want), "test.conf:12: key = %s: ", s->key.v);
	EXPECT_CONTAINS(reports, want);
	EXPECT_CONTAINS(reports, "does not match the certificate");
	tls_config_free(cfg);
}

TEST(missing_cert_file)
{
	struct service *s = svc_new("a", 0);
	struct config *cfg;
	int rc;

	set(&s->cert, "/nonexistent/x.pem", 7);
	cfg = cfg_init(&rc, s, (struct service *)NULL);
	EXPECT_EQ(rc, -1);
	EXPECT_CONTAINS(reports, "test.conf:7: cert = /nonexistent/x.pem: "
			"cannot load certificate chain: ");
	EXPECT_CONTAINS(reports, "No such file");
	tls_config_free(cfg);
}

TEST(missing_key_and_cafile)
{
	struct service *s = server_svc("a");
	struct config *cfg;
	int rc;

	set(&s->key, "/nonexistent/k.pem", 8);
	set(&s->cafile, "/nonexistent/ca.pem", 9);
	set(&s->crlpath, "/nonexistent/crl", 10);
	cfg = cfg_init(&rc, s, (struct service *)NULL);
	EXPECT_EQ(rc, -1);
	EXPECT_CONTAINS(reports, "test.conf:8: key = /nonexistent/k.pem: "
			"cannot load private key");
	EXPECT_CONTAINS(reports, "test.conf:9: CAfile = /nonexistent/ca.pem: ");
	EXPECT_CONTAINS(reports, "test.conf:10: CRLpath = /nonexistent/crl: "
			"No such file or directory");
	tls_config_free(cfg);
}

TEST(bad_ciphers_curves_suites_versions)
{
	struct service *s = server_svc("a");
	struct config *cfg;
	int rc;

	set(&s->ciphers, "NOSUCHCIPHER", 30);
	set(&s->curves, "P-256:nosuchgroup", 31);
	set(&s->ciphersuites, "TLS_AES_128_GCM_SHA256:TLS_FOO", 32);
	s->version_min = SSL3_VERSION;
	s->version_at.file = "test.conf";
	s->version_at.line = 33;
	cfg = cfg_init(&rc, s, (struct service *)NULL);
	EXPECT_EQ(rc, -1);
	EXPECT_CONTAINS(reports, "test.conf:30: ciphers = NOSUCHCIPHER: ");
	EXPECT_CONTAINS(reports, "no cipher match");
	EXPECT_CONTAINS(reports, "test.conf:31: curves = P-256:nosuchgroup: "
			"Invalid groups list in 'curves'");
	EXPECT_CONTAINS(reports, "test.conf:32: ciphersuites = ");
	EXPECT_CONTAINS(reports, "\"TLS_FOO\"");
	EXPECT_CONTAINS(reports, "test.conf:33: SSLv3 is not supported");
	tls_config_free(cfg);
}

TEST(pkcs12_cert)
{
	struct service *s = svc_new("p12", 0), *c = svc_new("c", 1);
	struct config *cfg;
	struct pair p;

	set(&s->cert, path("server.p12"), 5);
	c->verify_chain = 1;
	set(&c->cafile, path("ca.pem"), 6);
	add(&c->check_host, "server.test");
	cfg = cfg_ok(s, c, NULL);
	ASSERT_EQ(handshake(c, s, &p), 0);
	EXPECT_STREQ(peer_cn(p.c), "server.test");
	pair_free(&p);
	tls_config_free(cfg);
}

/* ---- handshakes ----------------------------------------------------- */

TEST(handshake_tls12)
{
	struct service *s = server_svc("s"), *c = svc_new("c", 1);
	struct config *cfg;
	struct pair p;
	char d[128];

	c->version_max = TLS1_2_VERSION;
	cfg = cfg_ok(s, c, NULL);
	ASSERT_EQ(handshake(c, s, &p), 0);
	EXPECT_EQ(SSL_version(p.s), TLS1_2_VERSION);
	EXPECT_STREQ(tls_conn_describe(p.c, d, sizeof(d)),
		     "TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384");
	EXPECT_TRUE(tls_conn_service(p.s) == s);
	EXPECT_TRUE(tls_conn_verify_error(p.c) == NULL);
	pair_free(&p);
	tls_config_free(cfg);
}

TEST(handshake_tls13)
{
	struct service *s = server_svc("s"), *c = svc_new("c", 1);
	struct config *cfg;
	struct pair p;
	char d[128];

	s->version_min = TLS1_3_VERSION;
	cfg = cfg_ok(s, c, NULL);
	ASSERT_EQ(handshake(c, s, &p), 0);
	EXPECT_STREQ(tls_conn_describe(p.s, d, sizeof(d)),
		     "TLSv1.3 TLS_AES_256_GCM_SHA384");
	EXPECT_EQ(SSL_get_options(p.s) & SSL_OP_ALLOW_CLIENT_RENEGOTIATION, 0);
	EXPECT_EQ(SSL_get_read_ahead(p.s), 0);
	EXPECT_EQ(SSL_get_max_early_data(p.s), 0);
	pair_free(&p);
	tls_config_free(cfg);
}

/*
 * Read-ahead only where RX stays in userspace for good: from the start
 * with ktls = off, after tls_conn_read_ahead() otherwise (DESIGN.md 3.4).
 * With it, one read takes several records, and every byte arrives.
 */
TEST(read_ahead_only_when_rx_stays_in_userspace)
{
	struct service *s = server_svc("s"), *c = svc_new("c", 1);
	unsigned char out[1200], in[4096];
	size_t n, got = 0, want = 0, w;
	struct config *cfg;
	struct pair p;
	int i, pending = 0;

	c->ktls = KTLS_OFF;
	cfg = cfg_ok(s, c, NULL);
	ASSERT_EQ(handshake(c, s, &p), 0);
	EXPECT_EQ(SSL_get_read_ahead(p.c), 1);
	EXPECT_EQ(SSL_get_read_ahead(p.s), 0);	/* ktls = auto: not yet */
	tls_conn_read_ahead(p.s);
	EXPECT_EQ(SSL_get_read_ahead(p.s), 1);

	for (i = 0; i < 64; i++) {	/* 64 records of 1..1166 bytes */
		n = (size_t)i * 37 % sizeof(out) + 1;
		memset(out, 'a' + i % 26, n);
		ASSERT_TRUE(SSL_write_ex(p.c, out, n, &w) && w == n);
		want += n;
	}
	ASSERT_EQ(SSL_shutdown(p.c), 0);
	for (i = 0; i < 1000; i++) {
		if (!SSL_read_ex(p.s, in, sizeof(in), &n))
			break;
		pending |= SSL_has_pending(p.s);
		for (w = 0; w < n; w++) {	/* record k holds 'a' + k */
			size_t k = 0, off = got + w, len;

			while (off >= (len = k * 37 % sizeof(out) + 1))
				off -= len, k++;
			if (in[w] != 'a' + k % 26)
				HARNESS_FAIL(1, "byte %zu differs", got + w);
		}
		got += n;
	}
	EXPECT_EQ(SSL_get_error(p.s, 0), SSL_ERROR_ZERO_RETURN);
	EXPECT_EQ(got, want);
	EXPECT_TRUE(pending);	/* records read ahead, waiting in OpenSSL */
	p.clean = 1;
	pair_free(&p);
	tls_config_free(cfg);
}

static int verify_case(const char *cafile, const char *host, int peer,
		       const char **err)
{
	struct service *s = server_svc("s"), *c = svc_new("c", 1);
	struct config *cfg;
	struct pair p;
	int rc;

	c->verify_chain = !peer;
	c->verify_peer = peer;
	set(&c->cafile, path(cafile), 40);
	if (host)
		add(&c->check_host, host);
	cfg = cfg_ok(s, c, NULL);
	rc = handshake(c, s, &p);
	*err = tls_conn_verify_error(p.c);
	*err = *err ? strdup(*err) : NULL;
	pair_free(&p);
	tls_config_free(cfg);
	return rc;
}

TEST(verify_chain_right_ca)
{
	const char *err;

	EXPECT_EQ(verify_case("ca.pem", "server.test", 0, &err), 0);
	EXPECT_TRUE(err == NULL);
}

TEST(verify_chain_wrong_ca)
{
	const char *err;

	EXPECT_EQ(verify_case("ca2.pem", "server.test", 0, &err), -1);
	EXPECT_STREQ(err, "unable to get local issuer certificate");
}

TEST(check_host_mismatch)
{
	const char *err;

	EXPECT_EQ(verify_case("ca.pem", "wrong.test", 0, &err), -1);
	EXPECT_STREQ(err, "hostname mismatch");
}

TEST(verify_peer_pinned_leaf)
{
	const char *err;

	/* the leaf itself in CAfile: accepted although not a trust anchor */
	EXPECT_EQ(verify_case("server.pem", NULL, 1, &err), 0);
	EXPECT_TRUE(err == NULL);
	/* only its CA: the chain is fine but the leaf is not pinned */
	EXPECT_EQ(verify_case("ca.pem", NULL, 1, &err), -1);
	EXPECT_STREQ(err, "certificate not found in local repository");
}

TEST(require_cert_without_client_cert)
{
	struct service *s = server_svc("s"), *c = svc_new("c", 1);
	struct config *cfg;
	struct pair p;

	s->require_cert = 1;
	set(&s->cafile, path("ca.pem"), 3);
	cfg = cfg_ok(s, c, NULL);
	EXPECT_EQ(handshake(c, s, &p), -1);
	EXPECT_EQ(p.ok_s, -1);
	pair_free(&p);
	tls_config_free(cfg);
}

TEST(client_cert_verified_by_server)
{
	struct service *s = server_svc("s"), *c = svc_new("c", 1);
	struct config *cfg;
	struct pair p;

	s->verify_chain = 1;
	set(&s->cafile, path("ca.pem"), 3);
	add(&s->check_host, "client.test");
	set(&c->cert, path("client.pem"), 4);
	set(&c->key, path("client.key"), 5);
	cfg = cfg_ok(s, c, NULL);
	ASSERT_EQ(handshake(c, s, &p), 0);
	EXPECT_STREQ(peer_cn(p.s), "client.test");
	pair_free(&p);
	tls_config_free(cfg);
}

TEST(sni_selects_secondary)
{
	struct service *s = server_svc("primary"), *v = svc_new("vhost", 0);
	struct service *c = svc_new("c", 1);
	struct config *cfg;
	struct pair p;

	set(&v->cert, path("sni.pem"), 60);
	set(&v->key, path("sni.key"), 61);
	v->sni_primary = s;
	v->sni_pattern = strdup("*.SNI.test");
	s->sni_children = calloc(1, sizeof(*s->sni_children));
	s->sni_children[0] = v;
	s->n_sni_children = 1;
	c->sni_name = strdup("www.sni.test");
	cfg = cfg_ok(s, v, c);

	ASSERT_EQ(handshake(c, s, &p), 0);
	EXPECT_STREQ(peer_cn(p.c), "www.sni.test");
	EXPECT_TRUE(tls_conn_service(p.s) == v);
	pair_free(&p);

	free(c->sni_name);
	c->sni_name = strdup("other.test");
	ASSERT_EQ(handshake(c, s, &p), 0);
	EXPECT_STREQ(peer_cn(p.c), "server.test");
	EXPECT_TRUE(tls_conn_service(p.s) == s);
	pair_free(&p);
	tls_config_free(cfg);
}

TEST(sni_secondary_requires_cert)
{
	struct service *s = server_svc("primary"), *v = svc_new("vhost", 0);
	struct service *c = svc_new("c", 1);
	struct config *cfg;
	struct pair p;

	set(&v->cert, path("sni.pem"), 60);
	set(&v->key, path("sni.key"), 61);
	v->require_cert = 1;
	set(&v->cafile, path("ca.pem"), 62);
	v->sni_pattern = strdup("www.sni.test");
	v->sni_primary = s;
	s->sni_children = calloc(1, sizeof(*s->sni_children));
	s->sni_children[0] = v;
	s->n_sni_children = 1;
	c->sni_name = strdup("www.sni.test");
	cfg = cfg_ok(s, v, c);
	EXPECT_EQ(handshake(c, s, &p), -1);
	pair_free(&p);
	tls_config_free(cfg);
}

/* A session of the primary must not open a secondary that wants a client
 * certificate, nor the other way round. */
static void sni_cross(int version)
{
	struct service *s = server_svc("primary"), *v = svc_new("vhost", 0);
	struct service *c = svc_new("c", 1);
	struct config *cfg;
	struct pair p;

	set(&v->cert, path("sni.pem"), 60);
	set(&v->key, path("sni.key"), 61);
	v->require_cert = 1;
	set(&v->cafile, path("ca.pem"), 62);
	v->sni_pattern = strdup("www.sni.test");
	v->sni_primary = s;
	s->sni_children = calloc(1, sizeof(*s->sni_children));
	s->sni_children[0] = v;
	s->n_sni_children = 1;
	c->version_max = version;
	c->sni_name = strdup("other.test");
	cfg = cfg_ok(s, v, c);
	ASSERT_EQ(handshake(c, s, &p), 0);
	pair_free(&p);
	free(c->sni_name);
	c->sni_name = strdup("www.sni.test");
	EXPECT_EQ(handshake(c, s, &p), -1);
	EXPECT_FALSE(SSL_session_reused(p.s));
	pair_free(&p);
	tls_config_free(cfg);
}

TEST(sni_resumption_stays_in_section_tls13)
{
	sni_cross(TLS1_3_VERSION);
}

TEST(sni_resumption_stays_in_section_tls12)
{
	sni_cross(TLS1_2_VERSION);
}

static int crl_case(const char *opt, const char *file, const char **err)
{
	struct service *s = server_svc("s"), *c = svc_new("c", 1);
	struct config *cfg;
	struct pair p;
	int rc;

	c->verify_chain = 1;
	set(&c->cafile, path("ca.pem"), 40);
	add(&c->check_host, "server.test");
	set(!strcmp(opt, "CRLfile") ? &c->crlfile : &c->crlpath, path(file), 41);
	cfg = cfg_ok(s, c, NULL);
	rc = handshake(c, s, &p);
	*err = tls_conn_verify_error(p.c);
	*err = *err ? strdup(*err) : NULL;
	pair_free(&p);
	tls_config_free(cfg);
	return rc;
}

TEST(crl_revoked)
{
	const char *err;

	EXPECT_EQ(crl_case("CRLfile", "crl-empty.pem", &err), 0);
	EXPECT_TRUE(err == NULL);
	EXPECT_EQ(crl_case("CRLfile", "crl.pem", &err), -1);
	EXPECT_STREQ(err, "certificate revoked");
	EXPECT_EQ(crl_case("CRLpath", "crldir", &err), -1);
	EXPECT_STREQ(err, "certificate revoked");
}

static void resumption(int version)
{
	struct service *s = server_svc("s"), *c = svc_new("c", 1);
	struct config *cfg;
	struct pair p;

	c->version_max = version;
	cfg = cfg_ok(s, c, NULL);
	ASSERT_EQ(handshake(c, s, &p), 0);
	EXPECT_FALSE(SSL_session_reused(p.c));
	pair_free(&p);
	ASSERT_EQ(handshake(c, s, &p), 0);
	EXPECT_TRUE(SSL_session_reused(p.c));
	EXPECT_TRUE(SSL_session_reused(p.s));
	pair_free(&p);
	tls_config_free(cfg);
}

TEST(client_session_resumption_tls13)
{
	resumption(TLS1_3_VERSION);
}

TEST(client_session_resumption_tls12)
{
	resumption(TLS1_2_VERSION);
}

/* TLS 1.2 session ids: the server cache keeps cleanly closed ones only. */
static int server_cache(int clean)
{
	struct service *s = server_svc("s"), *c = svc_new("c", 1);
	struct config *cfg;
	struct pair p;
	int reused;

	c->version_max = TLS1_2_VERSION;
	s->options_set = SSL_OP_NO_TICKET;
	cfg = cfg_ok(s, c, NULL);
	ASSERT_EQ(handshake(c, s, &p), 0);
	p.clean = clean;
	pair_free(&p);
	ASSERT_EQ(handshake(c, s, &p), 0);
	reused = SSL_session_reused(p.c);
	pair_free(&p);
	tls_config_free(cfg);
	return reused;
}

TEST(server_session_cache)
{
	EXPECT_TRUE(server_cache(1));
	EXPECT_FALSE(server_cache(0));
}

TEST(session_resume_off)
{
	struct service *s = server_svc("s"), *c = svc_new("c", 1);
	struct config *cfg;
	struct pair p;

	s->session_resume = 0;
	cfg = cfg_ok(s, c, NULL);
	ASSERT_EQ(handshake(c, s, &p), 0);
	pair_free(&p);
	ASSERT_EQ(handshake(c, s, &p), 0);
	EXPECT_FALSE(SSL_session_reused(p.c));
	pair_free(&p);
	tls_config_free(cfg);
}

/* A server restarted with the same ticket secrets resumes the client. */
static int ticket_restart(int version, int same_keys)
{
	struct service *c = svc_new("c", 1), *s;
	struct config *ccfg, *scfg;
	struct pair p;
	int i, reused;

	c->version_max = version;
	ccfg = cfg_ok(c, NULL, NULL);
	for (i = 0; i < 2; i++) {
		s = server_svc("s");
		s->ticket_key_len = 32;
		s->ticket_mac_len = 32;
		memset(s->ticket_key, 0x11, 32);
		memset(s->ticket_mac, i && !same_keys ? 0x33 : 0x22, 32);
		scfg = cfg_ok(s, NULL, NULL);
		if (handshake(c, s, &p) < 0)
			HARNESS_FAIL(1, "handshake %d failed", i);
		reused = SSL_session_reused(p.c);
		pair_free(&p);
		tls_config_free(scfg);
	}
	tls_config_free(ccfg);
	return reused;
}

TEST(ticket_keys_survive_restart)
{
	EXPECT_TRUE(ticket_restart(TLS1_3_VERSION, 1));
	EXPECT_TRUE(ticket_restart(TLS1_2_VERSION, 1));
	EXPECT_FALSE(ticket_restart(TLS1_3_VERSION, 0));
}

TEST_MAIN()
