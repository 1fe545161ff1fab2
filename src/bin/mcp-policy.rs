//! `mcp-policy`: check, explain and generate policies for the filter, print
//! its Envoy configuration and hash grant tokens. See `src/cli/`.

fn main() -> std::process::ExitCode {
    mcp_policy_filter::cli::main()
}
