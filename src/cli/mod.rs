//! `mcp-policy`: the command-line companion of the filter (feature `cli`).
//! It shares the filter's core: policies are loaded by `policy`, wrappers by
//! `config`, requests read by `mcp::read_payload` and decided by
//! `filter::verdict`, and replies built by `filter::reply`, so what it says
//! is what the filter does.
//!
//! Exit codes: 0 success (for `explain`, whatever the decision, unless
//! `--exit-code`); 1 `check` found an invalid file, or `explain --exit-code`
//! decided deny; 2 usage or input errors (unreadable files, bad JSON, an
//! invalid policy given to `explain`/`envoy`, an unknown grant).

pub mod classify;
pub mod envoy;
pub mod explain;
pub mod generate;
pub mod keywords;
pub mod load;
pub mod oauth;
pub mod ratelimit_config;
pub mod service;
pub mod tree;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{hash_token, to_hex, Config};
use crate::policy::Policy;

use load::{Document, LoadError};
use tree::Node;

/// Exit status for success.
pub const EXIT_OK: u8 = 0;
/// `check`: a file is invalid; `explain --exit-code`: the request is denied.
pub const EXIT_FAILED: u8 = 1;
/// Usage and input errors.
pub const EXIT_USAGE: u8 = 2;

/// Check, explain and generate policies for the mcp-policy-filter Envoy filter.
///
/// Exit codes: 0 success; 1 `check` found an invalid file (or `explain
/// --exit-code` decided deny); 2 usage or input errors.
#[derive(Debug, Parser)]
#[command(name = "mcp-policy", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Check(CheckArgs),
    Explain(ExplainArgs),
    Generate(GenerateArgs),
    Envoy(EnvoyArgs),
    HashToken(HashTokenArgs),
    RatelimitConfig(RatelimitConfigArgs),
}

/// Validate policy files: bare policies, wrapper configurations and grants lists.
///
/// A file with a top-level "version" is a bare policy; a JSON array is a
/// grants list (like policies/demo-grants.json); anything else is a wrapper
/// configuration. Every problem is printed to stderr as
/// FILE:LINE:COLUMN: /json/pointer: message. Valid files print "FILE: ok (...)"
/// on stdout. Exit 0 when every file is valid, 1 when one is invalid, 2 when one
/// cannot be read.
#[derive(Debug, Args)]
struct CheckArgs {
    /// The files to check.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// Show what the filter decides for a JSON-RPC request, and the reply the agent gets.
///
/// Prints the decision (allow or deny), the rule (a JSON pointer into the
/// policy or a special rule such as "(default deny)"), the message and the
/// exact JSON reply the filter would send; for an allowed call, the limits it
/// would be charged and the reply once each is spent, and any denial a
/// dry-run rule would have made. Batches are explained element by element.
/// It runs the filter's own decision: the request head is built from the
/// options (a POST to /mcp with Content-Type: application/json, plus
/// --header), the grant comes from the configuration's grant table, and rate
/// limits are counted from empty counters (or --used) at --now.
///
/// Exit 0 whatever the decision (1 for deny with --exit-code), 2 on input errors.
#[derive(Debug, Args)]
struct ExplainArgs {
    /// The policy: a bare policy or a wrapper configuration.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The JSON-RPC request body (one message or a batch); "-" reads stdin.
    #[arg(long, short, value_name = "REQUEST.json")]
    request: PathBuf,
    /// The grant making the request. For a wrapper it selects the grant's
    /// policy; without it the wrapper's default "policy" applies. For a bare
    /// policy it only names the caller (request.grant, grant-scoped limits).
    #[arg(long, short, value_name = "NAME")]
    grant: Option<String>,
    /// The caller's verified identity, picked as the filter picks it (instead
    /// of --grant): token=TOKEN, jwt=PAYLOAD.json or jwt={...} (the claims
    /// jwt_authn verified), uri-san=spiffe://... or dns-san=HOST (the peer
    /// certificate's). Repeatable.
    #[arg(long, value_name = "KIND=VALUE")]
    identity: Vec<String>,
    /// The upstream's MCP session id (request.session conditions,
    /// session-scoped limits); it is presented sealed for the grant, as the
    /// filter hands it out. A raw `Mcp-Session-Id` given with --header is
    /// checked as the filter checks it.
    #[arg(long, value_name = "ID")]
    session: Option<String>,
    /// A request header, "Name: value" (repeatable), e.g.
    /// "MCP-Protocol-Version: 2026-07-28" or ":path: /messages?sessionId=s1".
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// The clock, in seconds since the Unix epoch (default: now).
    #[arg(long, value_name = "SECONDS")]
    now: Option<u64>,
    /// Units already spent in a counter this request draws from,
    /// "COUNTER=N" (repeatable).
    #[arg(long, value_name = "COUNTER=N")]
    used: Vec<String>,
    /// Print the explanation as JSON.
    #[arg(long)]
    json: bool,
    /// Exit 1 when the request is denied.
    #[arg(long)]
    exit_code: bool,
}

/// Write a recommended policy for a server's tools to stdout.
///
/// Reads the result of tools/list: the whole JSON-RPC response, its "result",
/// or {"tools": [...]} ("-" reads stdin). Each tool is classified from its
/// name, description and MCP annotations, and gets PolicyLayer's
/// recommendation: Read allowed; Write 30 calls per minute per grant; Execute
/// 10 per minute per grant; Destructive hidden; Financial requires approval.
/// Other tools are denied ("default": "deny"). The classification table goes
/// to stderr.
#[derive(Debug, Args)]
struct GenerateArgs {
    /// The tools/list response.
    #[arg(long, short, value_name = "TOOLS_LIST.json")]
    tools: PathBuf,
}

/// Print the filter's Envoy http_filters entry, with the configuration embedded.
///
/// The entry is the envoy.filters.http.wasm filter of envoy/demo.yaml (V8,
/// allow_on_headers_stop_iteration, FAIL_CLOSED); its configuration is a
/// google.protobuf.StringValue holding the wrapper JSON, validated before it
/// is printed. Paste it under the HttpConnectionManager's http_filters,
/// before the router.
///
/// With --jwt-issuer it is preceded by the jwt_authn filter that verifies
/// JWTs (from Authorization only) for the JWT grants. The --oauth-* options
/// make the gateway MCP's OAuth protected resource (the wrapper's "oauth"):
/// every 401 points to its metadata, which the filter answers (or the
/// upstream, --oauth-metadata upstream); jwt_authn then accepts the resource
/// as the audience (unless --jwt-audience says otherwise, which must include
/// it) and forwards the token exactly when the configuration does.
#[derive(Debug, Args)]
struct EnvoyArgs {
    /// The policy: a bare policy (wrapped with the grants) or a wrapper configuration.
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// A JSON array of grants ({"name", "token_sha256": [...], "policy"?}), like
    /// policies/demo-grants.json. It replaces a wrapper's own grants.
    #[arg(long, value_name = "FILE")]
    grants: Option<PathBuf>,
    /// Path of the filter module as Envoy sees it.
    #[arg(long, value_name = "PATH", default_value = envoy::DEFAULT_MODULE)]
    module: String,
    /// Also print the jwt_authn filter that verifies JWTs for the filter's
    /// JWT grants, for tokens from this issuer.
    #[arg(long, value_name = "ISSUER")]
    jwt_issuer: Option<String>,
    /// An audience jwt_authn accepts (repeatable): the MCP server's public URL.
    /// With an OAuth resource it defaults to the resource, and must include it.
    #[arg(long, value_name = "URL", requires = "jwt_issuer")]
    jwt_audience: Vec<String>,
    /// A local JWKS file (as Envoy sees it).
    #[arg(
        long,
        value_name = "PATH",
        requires = "jwt_issuer",
        conflicts_with = "jwks_uri"
    )]
    jwks_file: Option<String>,
    /// The identity provider's JWKS URL, fetched through --jwks-cluster.
    #[arg(long, value_name = "URL", requires_all = ["jwt_issuer", "jwks_cluster"])]
    jwks_uri: Option<String>,
    /// The Envoy cluster that reaches the identity provider.
    #[arg(long, value_name = "CLUSTER", requires = "jwks_uri")]
    jwks_cluster: Option<String>,
    /// Keep verified tokens in Authorization, for an upstream that is the
    /// OAuth resource server and validates them itself: sets the
    /// configuration's oauth.forward_token (static grant tokens never go
    /// upstream). jwt_authn's `forward` follows the configuration.
    #[arg(long, requires = "jwt_issuer")]
    jwt_forward: bool,
    #[command(flatten)]
    oauth: oauth::OAuthArgs,
}

/// Print the SHA-256 hex digest of a bearer token, for a grant's token_sha256.
///
/// Without TOKEN the token is read from stdin (one trailing newline is
/// removed), which keeps it out of the shell history:
/// `mcp-policy hash-token < token.txt` or `printf %s "$TOKEN" | mcp-policy hash-token`.
#[derive(Debug, Args)]
struct HashTokenArgs {
    /// The token (prefer stdin: arguments land in the shell history).
    token: Option<String>,
}

/// Write a rate-limit service's limits configuration, for the limits a policy has it count.
///
/// The limits are those counted by the wrapper's rate_limit_service
/// ("counted_by": "rate_limit_service" on the limit, or on its policy), in
/// the wrapper's policy and named policies, or in a bare policy. The filter
/// sends each of them with its limit as an override; this configuration
/// gives services that ignore overrides (Limitador) the same limits, and
/// configures the domain envoyproxy/ratelimit looks up first. The domain is
/// --domain, else the wrapper's rate_limit_service.domain, else mcp_policy.
/// Exit 1 when the file has no limit the service counts, or when one counter
/// (name and scope) has two different limits.
#[derive(Debug, Args)]
struct RatelimitConfigArgs {
    /// The policy: a wrapper configuration or a bare policy.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The service: envoyproxy (envoyproxy/ratelimit's YAML) or limitador
    /// (Limitador 2.x's limits file, CEL conditions).
    #[arg(long, value_enum)]
    format: RatelimitFormat,
    /// The domain (envoyproxy/ratelimit) or namespace (Limitador).
    #[arg(long, value_name = "NAME")]
    domain: Option<String>,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum RatelimitFormat {
    Envoyproxy,
    Limitador,
}

/// A command's failure: what to print on stderr, and the exit status.
struct Failure {
    status: u8,
    message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Failure {
        Failure {
            status: EXIT_USAGE,
            message: message.into(),
        }
    }
}

impl From<LoadError> for Failure {
    fn from(error: LoadError) -> Failure {
        Failure::usage(error.to_string())
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth reporting.
fn print_out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

fn print_err(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = stderr.write_all(b"\n");
    }
}

/// Runs the CLI with the process arguments.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(EXIT_USAGE));
        }
    };
    ExitCode::from(run(cli))
}

/// Runs a parsed command and returns its exit status.
pub fn run(cli: Cli) -> u8 {
    let result = match cli.command {
        Command::Check(args) => Ok(check(&args)),
        Command::Explain(args) => explain(&args),
        Command::Generate(args) => generate(&args),
        Command::Envoy(args) => envoy(&args),
        Command::HashToken(args) => hash(&args),
        Command::RatelimitConfig(args) => ratelimit_config(&args),
    };
    match result {
        Ok(status) => status,
        Err(failure) => {
            print_err(&format!("mcp-policy: {}", failure.message));
            failure.status
        }
    }
}

fn check(args: &CheckArgs) -> u8 {
    let (mut invalid, mut unreadable) = (0usize, 0usize);
    for file in &args.files {
        match load::load(file) {
            Ok(loaded) => {
                for warning in &loaded.warnings {
                    print_err(&warning.to_string());
                }
                let verdict = if matches!(loaded.document, Document::JsonSchema) {
                    "skipped"
                } else {
                    "ok"
                };
                print_out(&format!(
                    "{}: {verdict} ({})\n",
                    file.display(),
                    loaded.document.describe()
                ));
            }
            Err(LoadError::Unreadable(message)) => {
                unreadable += 1;
                print_err(&format!("mcp-policy: {message}"));
            }
            Err(LoadError::Invalid(diagnostics)) => {
                invalid += 1;
                for diagnostic in &diagnostics {
                    print_err(&diagnostic.to_string());
                }
                let n = diagnostics.len();
                print_err(&format!(
                    "{}: invalid ({n} problem{})",
                    file.display(),
                    if n == 1 { "" } else { "s" }
                ));
            }
        }
    }
    if unreadable > 0 {
        EXIT_USAGE
    } else if invalid > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// Reads a file, or stdin for `-`.
fn read_input(path: &Path) -> Result<Vec<u8>, Failure> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
        Ok(bytes)
    } else {
        std::fs::read(path)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))
    }
}

fn explain(args: &ExplainArgs) -> Result<u8, Failure> {
    let loaded = load::load(&args.file)?;
    let config = match loaded.document {
        Document::Bare { policy, .. } => Config::bare(policy),
        Document::Wrapper { config, .. } => config,
        Document::Grants { .. } | Document::JsonSchema => {
            return Err(Failure::usage(format!(
                "{} is not a policy or a wrapper configuration ({})",
                args.file.display(),
                loaded.document.describe()
            )))
        }
    };
    let identity = explain::Identity::parse(&args.identity).map_err(Failure::usage)?;
    if identity.is_some() && args.grant.is_some() {
        return Err(Failure::usage("give --grant or --identity, not both"));
    }
    let picked = match &identity {
        Some(identity) => explain::pick(&config, identity),
        None => explain::select(&config, args.grant.as_deref())
            .map(explain::Picked::Grant)
            .map_err(|e| Failure::usage(format!("{}: {e}", args.file.display())))?,
    };
    let mut headers = Vec::new();
    for header in &args.headers {
        headers.push(parse_header(header)?);
    }
    let mut used = Vec::new();
    for entry in &args.used {
        let parsed = entry
            .split_once('=')
            .and_then(|(counter, count)| Some((counter.to_owned(), count.trim().parse().ok()?)));
        used.push(parsed.ok_or_else(|| {
            Failure::usage(format!(
                "--used {entry:?}: expected COUNTER=N with a whole number N"
            ))
        })?);
    }
    let now_secs = match args.now {
        Some(now) => now,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0),
    };
    let request = explain::Request {
        headers,
        body: read_input(&args.request)?,
        session: args.session.clone(),
        now_secs,
        used,
    };
    let explanation = match picked {
        explain::Picked::Grant(grant) => explain::explain(&config, &grant, &request),
        explain::Picked::Refused(refusal) => explain::refused_at_headers(None, refusal),
    };
    if args.json {
        let text = serde_json::to_string_pretty(&explain::render_json(&explanation))
            .map_err(|e| Failure::usage(format!("cannot write JSON: {e}")))?;
        print_out(&format!("{text}\n"));
    } else if !explanation.invalid() {
        print_out(&explain::render_text(&explanation));
    }
    if let (true, Some(reply)) = (explanation.invalid(), &explanation.reply) {
        return Err(Failure::usage(format!(
            "{} is not a valid JSON-RPC request for the filter ({})\nthe filter answers it with HTTP {} before any policy applies:\n{}",
            args.request.display(),
            reply.details,
            reply.status,
            String::from_utf8_lossy(&reply.body)
        )));
    }
    Ok(if args.exit_code && explanation.denied() {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}

/// `Name: value`; a pseudo-header (`:path: /x`) keeps its leading colon.
fn parse_header(text: &str) -> Result<(String, String), Failure> {
    let skip = usize::from(text.starts_with(':'));
    let split = text
        .get(skip..)
        .and_then(|rest| rest.find(':'))
        .map(|at| at + skip);
    match split.and_then(|at| Some((text.get(..at)?, text.get(at + 1..)?))) {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(Failure::usage(format!(
            "--header {text:?}: expected \"Name: value\""
        ))),
    }
}

fn generate(args: &GenerateArgs) -> Result<u8, Failure> {
    let bytes = read_input(&args.tools)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Failure::usage(format!("{} is not UTF-8", args.tools.display())))?;
    let tools = generate::tools_of(&text)
        .map_err(|e| Failure::usage(format!("{}: {e}", args.tools.display())))?;
    let generated = generate::generate(&tools)
        .map_err(|e| Failure::usage(format!("{}: {e}", args.tools.display())))?;
    // The output must load; a failure here is a bug in the generator.
    Policy::from_json_text(&generated.policy)
        .map_err(|e| Failure::usage(format!("the generated policy is invalid (a bug):\n{e}")))?;
    let mut report = generate::table(&generated.rows);
    for skipped in &generated.skipped {
        report.push_str(&format!("skipped {skipped}\n"));
    }
    print_err(&report);
    print_out(&generated.policy);
    Ok(EXIT_OK)
}

fn envoy(args: &EnvoyArgs) -> Result<u8, Failure> {
    let policy = load::load(&args.policy)?;
    let mut wrapper = match policy.document {
        Document::Bare { .. } => Node::object(vec![("policy", policy.tree)]),
        Document::Wrapper { .. } => policy.tree,
        Document::Grants { .. } | Document::JsonSchema => {
            return Err(Failure::usage(format!(
                "{} is not a policy or a wrapper configuration ({}); grants lists go with --grants",
                args.policy.display(),
                policy.document.describe()
            )))
        }
    };
    match &args.grants {
        Some(path) => {
            let grants = load::load(path)?;
            if !matches!(grants.document, Document::Grants { .. }) {
                return Err(Failure::usage(format!(
                    "{} must be a JSON array of grants ({{\"name\", \"token_sha256\": [...]}})",
                    path.display()
                )));
            }
            if wrapper.get("grants").is_some() {
                print_err(&format!(
                    "mcp-policy: note: the grants of {} replace those of {}",
                    path.display(),
                    args.policy.display()
                ));
            }
            wrapper.set("grants", grants.tree);
        }
        None if wrapper.get("grants").is_none() => {
            print_err(
                "mcp-policy: warning: no grants (--grants FILE): every request will get 401. \
                 Hash each grant's token with `mcp-policy hash-token`.",
            );
            wrapper.set("grants", Node::array(Vec::new()));
        }
        None => {}
    }
    oauth::apply(
        &mut wrapper,
        &args.oauth,
        args.jwt_issuer.as_deref(),
        args.jwt_forward,
    )
    .map_err(Failure::usage)?;
    // Secrets stay out of the configuration: where the wrapper has none, the
    // filter reads them from the VM's environment.
    for (field, variable) in [
        ("session_keys", envoy::SESSION_KEYS_VARIABLE),
        ("counter_key", envoy::COUNTER_KEY_VARIABLE),
    ] {
        let configuration = envoy::configuration_text(&wrapper);
        let missing = match load::config_from_text(&configuration) {
            Err(error) => {
                error.problems.iter().any(|p| p.path == format!("/{field}"))
                    && wrapper.get(field).is_none()
            }
            Ok(_) => false,
        };
        if missing {
            print_err(&format!(
                "mcp-policy: note: \"{field}\" is read from the environment variable {variable}: set it in Envoy's environment"
            ));
            wrapper.set(field, Node::object(vec![("env", Node::string(variable))]));
        }
    }
    let configuration = envoy::configuration_text(&wrapper);
    let config = load::config_from_text(&configuration).map_err(|error| {
        Failure::usage(format!("the assembled configuration is invalid:\n{error}"))
    })?;
    let resource = config.settings.oauth.as_deref();
    let forward = resource.is_some_and(|oauth| oauth.forward_token);
    if forward && args.jwt_issuer.is_none() {
        print_err(
            "mcp-policy: note: oauth.forward_token is on: the jwt_authn in front of the filter must have forward: true",
        );
    }
    let variables = envoy::environment_variables(&wrapper);
    if let Some(issuer) = &args.jwt_issuer {
        let jwks = match (&args.jwks_file, &args.jwks_uri, &args.jwks_cluster) {
            (Some(path), None, _) => envoy::Jwks::File(path.clone()),
            (None, Some(uri), Some(cluster)) => envoy::Jwks::Remote {
                uri: uri.clone(),
                cluster: cluster.clone(),
            },
            _ => {
                return Err(Failure::usage(
                    "--jwt-issuer needs --jwks-file, or --jwks-uri with --jwks-cluster",
                ))
            }
        };
        let payload_key = match wrapper.get("jwt_payload_metadata_key") {
            Some(Node::Scalar(raw)) => serde_json::from_str::<String>(raw).unwrap_or_default(),
            _ => "jwt_payload".to_owned(),
        };
        print_out(&envoy::jwt_authn_yaml(&envoy::JwtProvider {
            issuer: issuer.clone(),
            audiences: oauth::audiences(&args.jwt_audience, resource).map_err(Failure::usage)?,
            jwks,
            forward,
            payload_key,
        }));
    }
    print_out(&envoy::http_filter_yaml(
        &configuration,
        &args.module,
        &variables,
    ));
    Ok(EXIT_OK)
}

fn ratelimit_config(args: &RatelimitConfigArgs) -> Result<u8, Failure> {
    let loaded = load::load(&args.file)?;
    let mut bare = None;
    let mut compiled: Vec<(String, Policy)> = Vec::new();
    let mut domain = None;
    match &loaded.document {
        Document::Bare { policy, .. } => bare = Some(policy),
        Document::Wrapper { config, value } => {
            domain = config
                .settings
                .rate_limit_service
                .as_ref()
                .map(|service| service.domain.clone());
            let named = value
                .get("policies")
                .and_then(serde_json::Value::as_object)
                .into_iter()
                .flatten()
                .map(|(name, policy)| {
                    let name = name.replace('~', "~0").replace('/', "~1");
                    (format!("/policies/{name}"), policy)
                });
            let default = value
                .get("policy")
                .map(|policy| ("/policy".to_owned(), policy));
            for (pointer, policy) in default.into_iter().chain(named) {
                let policy = Policy::from_value(policy, &pointer)
                    .map_err(|errors| Failure::usage(errors.to_string()))?;
                compiled.push((pointer, policy));
            }
        }
        Document::Grants { .. } | Document::JsonSchema => {
            return Err(Failure::usage(format!(
                "{} is not a policy or a wrapper configuration ({})",
                args.file.display(),
                loaded.document.describe()
            )))
        }
    }
    let policies = bare
        .map(|policy| (String::new(), policy))
        .into_iter()
        .chain(
            compiled
                .iter()
                .map(|(pointer, policy)| (pointer.clone(), policy)),
        );
    let counted = ratelimit_config::counted(policies).map_err(|message| Failure {
        status: EXIT_FAILED,
        message: format!("{}: {message}", args.file.display()),
    })?;
    if counted.is_empty() {
        return Err(Failure {
            status: EXIT_FAILED,
            message: format!(
                "{}: no limit is counted by the rate-limit service; mark limits, or a whole policy, with \"counted_by\": \"rate_limit_service\"",
                args.file.display()
            ),
        });
    }
    let domain = args
        .domain
        .clone()
        .or(domain)
        .unwrap_or_else(|| crate::config::rate_limit_service::DEFAULT_DOMAIN.to_owned());
    let format = match args.format {
        RatelimitFormat::Envoyproxy => ratelimit_config::Format::Envoyproxy,
        RatelimitFormat::Limitador => ratelimit_config::Format::Limitador,
    };
    let source = args.file.display().to_string();
    print_out(&ratelimit_config::render(
        format, &domain, &source, &counted,
    ));
    Ok(EXIT_OK)
}

fn hash(args: &HashTokenArgs) -> Result<u8, Failure> {
    let token = match &args.token {
        Some(token) => token.clone(),
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                print_err("mcp-policy: reading the token from stdin (end with Ctrl-D)");
            }
            let mut text = String::new();
            stdin
                .lock()
                .read_to_string(&mut text)
                .map_err(|e| Failure::usage(format!("cannot read the token from stdin: {e}")))?;
            let trimmed = text
                .strip_suffix("\r\n")
                .or_else(|| text.strip_suffix('\n'))
                .unwrap_or(&text);
            trimmed.to_owned()
        }
    };
    if token.is_empty() {
        return Err(Failure::usage("the token is empty"));
    }
    if token.chars().any(char::is_whitespace) {
        print_err("mcp-policy: warning: the token contains whitespace; a bearer token never does");
    }
    print_out(&format!("{}\n", to_hex(&hash_token(&token))));
    Ok(EXIT_OK)
}
