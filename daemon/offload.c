/* SPDX-License-Identifier: MIT */
#include "offload.h"
#include "conn.h"
#include "ktls.h"
#include "log.h"
#include "tls.h"
#include "tls_keys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>

static struct ktls_caps caps;
static char summary[512] = "kTLS: not probed";

/* What a rekey needs, kept per side only where the kernel can rekey. */
struct offload_rekey {
	struct ktls_suite suite;
	unsigned char tx[KTLS_MAX_SECRET], rx[KTLS_MAX_SECRET];
	size_t len;
	unsigned gen_tx, gen_rx;	/* generations installed */
};

static int probed;

void offload_probe(void)
{
	ktls_probe(&caps);
	ktls_caps_summary(&caps, summary, sizeof(summary));
	probed = 1;
}

void offload_log(void)
{
	logm(LOG_NOTICE, "%s", summary);
}

int offload_possible(void)
{
	return !probed || !caps.ulp_err;
}

const char *offload_summary(void)
{
	return summary;
}

/* Install one direction; returns NULL, or why it stays in userspace. */
static const char *install(SSL *ssl, int fd, int tx, char *buf, size_t len)
{
	union ktls_crypto_info ci;
	const char *why;
	int rc;

	if (!tx && SSL_has_pending(ssl))
		return "OpenSSL already holds received bytes";
	rc = tls_keys_crypto_info(ssl, tx, &ci, &why);
	if (rc < 0)
		return why;
	rc = ktls_install(fd, tx ? TLS_TX : TLS_RX, &ci);
	if (rc < 0) {
		snprintf(buf, len, "%s (%s)", ktls_err_str(-rc), strerror(-rc));
		return buf;
	}
	return NULL;
}

/* OpenSSL must never touch the socket again in an offloaded direction:
 * give it memory BIOs, so that anything it would read is EOF and
 * anything it would write goes nowhere. */
static void detach(SSL *ssl, int tx, int rx)
{
	if (tx)
		SSL_set0_wbio(ssl, BIO_new(BIO_s_mem()));
	if (rx) {
		BIO *b = BIO_new(BIO_s_mem());

		if (b)
			BIO_set_mem_eof_return(b, 0);
		SSL_set0_rbio(ssl, b);
	}
}

/* TLS 1.3 with both directions installed, on a kernel that rekeys. */
static struct offload_rekey *keep_secrets(SSL *ssl)
{
	struct offload_rekey *r = calloc(1, sizeof(*r));

	if (r && tls_keys_tls13_secrets(ssl, &r->suite, r->tx, r->rx,
					&r->len) < 0) {
		offload_rekey_free(r);
		r = NULL;
	}
	return r;
}

void offload_rekey_free(struct offload_rekey *r)
{
	if (!r)
		return;
	OPENSSL_cleanse(r, sizeof(*r));
	free(r);
}

int offload_key_update_rx(struct conn *c, struct side *s, int update_requested,
			  char *why, size_t len)
{
	struct offload_rekey *r = s->rekey;
	int rc;

	if (!r) {
		snprintf(why, len, "the peer sent a TLS 1.3 KeyUpdate and %s",
			 caps.rekey_rx_err ? "this kernel cannot rekey kernel "
			 "TLS (Linux >= 6.14 can)" : "this connection cannot "
			 "rekey (not both directions in the kernel)");
		return -EOPNOTSUPP;
	}
	rc = ktls_tls13_rekey(s->rfd, TLS_RX, &r->suite, r->rx, r->len);
	if (rc < 0) {
		snprintf(why, len, "kernel TLS receive rekey: %s",
			 strerror(-rc));
		return rc;
	}
	r->gen_rx++;
	if (update_requested)
		s->ku_owed = 1;
	logc(c->svc, c->id, LOG_INFO, "TLS 1.3 KeyUpdate received: receive "
	     "key generation %u installed%s", r->gen_rx,
	     update_requested ? "; the peer asks for ours" : "");
	return 0;
}

int offload_key_update_tx(struct conn *c, struct side *s, char *why,
			  size_t len)
{
	struct offload_rekey *r = s->rekey;
	int rc;

	rc = ktls_send_key_update(s->wfd, 0, MSG_DONTWAIT);
	if (rc == -EAGAIN || rc == -EINTR)
		return -EAGAIN;
	if (!rc) {
		ktls_txq_add(&s->txq, 5);	/* the KeyUpdate message */
		ktls_txq_rekey(&s->txq, s->wfd);
		rc = ktls_tls13_rekey(s->wfd, TLS_TX, &r->suite, r->tx, r->len);
	}
	if (rc < 0) {
		snprintf(why, len, "kernel TLS transmit rekey: %s",
			 strerror(-rc));
		return rc;
	}
	r->gen_tx++;
	s->ku_owed = 0;
	logc(c->svc, c->id, LOG_INFO, "TLS 1.3 KeyUpdate sent: transmit key "
	     "generation %u installed", r->gen_tx);
	return 0;
}

void offload_attach(struct conn *c)
{
	struct side *s = &c->s[c->tls_side];

	if (c->svc->ktls != KTLS_OFF && !caps.ulp_err && s->rfd == s->wfd &&
	    !ktls_ulp(s->rfd))
		s->ulp = 1;
}

int offload_conn(struct conn *c)
{
	struct side *s = &c->s[c->tls_side];
	const char *wtx = NULL, *wrx = NULL;
	char btx[96], brx[96];
	int rc;

	c->path = "userspace";
	if (c->svc->ktls == KTLS_OFF) {
		snprintf(c->path_why, sizeof(c->path_why), "ktls = off");
		return 0;
	}
	if (caps.ulp_err) {
		snprintf(c->path_why, sizeof(c->path_why),
			 "no kernel TLS: %s", ktls_err_str(caps.ulp_err));
		goto out;
	}
	if (s->rfd != s->wfd) {
		snprintf(c->path_why, sizeof(c->path_why),
			 "inetd mode on two descriptors");
		goto out;
	}
	rc = s->ulp ? 0 : ktls_ulp(s->rfd);
	if (rc < 0) {
		snprintf(c->path_why, sizeof(c->path_why), "%s (%s)",
			 ktls_err_str(-rc), strerror(-rc));
		goto out;
	}
	wtx = install(s->ssl, s->rfd, 1, btx, sizeof(btx));
	wrx = install(s->ssl, s->rfd, 0, brx, sizeof(brx));
	if (!wtx && !wrx && !caps.rekey_tx_err && !caps.rekey_rx_err)
		s->rekey = keep_secrets(s->ssl);
	tls_keys_forget(s->ssl);
	s->ktls_tx = !wtx;
	s->ktls_rx = !wrx;
	/* Nothing written since the key went in: OpenSSL's last flight is
	 * all TCP's (SSL_do_handshake() returned 1 after writing it). */
	if (s->ktls_tx && ktls_txq_start(&s->txq, s->wfd) < 0)
		logc(c->svc, c->id, LOG_DEBUG, "cannot count what kernel TLS "
		     "holds back: the end of the data may not wait for it");
	if (s->ktls_rx && SSL_version(s->ssl) >= TLS1_3_VERSION)
		ktls_rx_expect_no_pad(s->rfd);
	detach(s->ssl, s->ktls_tx, s->ktls_rx);
	if (s->ktls_tx && s->ktls_rx) {
		/* The kernel has it all: the OpenSSL state (about 10 KiB) is
		 * of no more use; freed as after a clean shutdown, so that
		 * the session stays resumable. */
		tls_conn_free(s->ssl, 1);
		s->ssl = NULL;
		c->path = "ktls tx+rx";
		c->path_why[0] = '\0';
		logc(c->svc, c->id, LOG_INFO, "Data path: %s", c->path);
		return 0;
	}
	if (s->ktls_tx || s->ktls_rx) {
		c->path = s->ktls_tx ? "ktls tx" : "ktls rx";
		snprintf(c->path_why, sizeof(c->path_why), "%s: %s",
			 s->ktls_tx ? "rx" : "tx", s->ktls_tx ? wrx : wtx);
	} else if (wtx == wrx || !strcmp(wtx, wrx)) {
		snprintf(c->path_why, sizeof(c->path_why), "%s", wtx);
	} else {
		snprintf(c->path_why, sizeof(c->path_why), "tx: %s; rx: %s",
			 wtx, wrx);
	}
out:
	if (c->svc->ktls == KTLS_REQUIRED) {
		char why[200];

		snprintf(why, sizeof(why), "ktls = required: %s", c->path_why);
		logc(c->svc, c->id, LOG_ERR, "%s", why);
		conn_close(c, why, 1);
		return -1;
	}
	logc(c->svc, c->id, LOG_INFO, "Data path: %s (%s)", c->path,
	     c->path_why);
	return 0;
}
