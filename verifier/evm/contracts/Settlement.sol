// SPDX-License-Identifier: MIT
pragma solidity 0.8.19;

import "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import "@openzeppelin/contracts/access/Ownable2Step.sol";
import "@openzeppelin/contracts/security/Pausable.sol";
import "./PoseidonSponge.sol";

/// On-chain settlement of zkattr epochs (SPEC v1, BN254/halo2 backend).
///
/// Compiler: OpenZeppelin Contracts 4.9.6 (`pragma ^0.8.0`) with solc 0.8.19, the exact version
/// snark-verifier's generated verifier pins: one compiler for every contract, and no PUSH0, so
/// the bytecode runs on pre-Shanghai chains too. OZ 5.x would need a second solc (>= 0.8.20).
///
/// Roles: the owner (`Ownable2Step`) proposes role changes and sweeps expired epochs; `operator`
/// registers each epoch's activation commitment, `engine` its influence commitment, `registrar`
/// records each adapter's first owner, `guardian` may pause, `treasury` receives the statement's
/// treasury residual and swept funds. Every role rotates in two steps (propose, accept); no two
/// roles share an address. Anyone may settle a registered epoch: the settler pays
/// `(total_paid + treasury) * unit` tokens in, the treasury share goes straight on, and the rest is
/// that epoch's own balance, which its claims can never exceed. A set of logs (activation and
/// influence commitments) settles once, whatever epoch id it is registered under.
contract Settlement is Ownable2Step, Pausable {
    using SafeERC20 for IERC20;

    uint256 internal constant Q = 0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001;
    uint256 public constant PAYOUT_DEPTH = 20;

    enum Role {
        Operator,
        Engine,
        Registrar,
        Guardian,
        Treasury
    }

    address public immutable verifier;
    /// The exact proof length the verifier reads; any other length is refused before the call.
    uint256 public immutable proofLength;
    IERC20 public immutable token;
    /// Token base units per statement unit (amounts are u64; 10^k pays a token of k more decimals).
    uint256 public immutable unit;
    uint16 public immutable rateBps;
    /// Seconds after settlement during which claims are accepted; the owner may then sweep.
    uint64 public immutable claimWindow;
    /// Seconds between the registrar scheduling an owner override and executing it.
    uint64 public immutable overrideDelay;

    mapping(Role => address) public roleHolder;
    mapping(Role => address) public pendingRole;

    /// Commitments in storage; the payout root is non-zero once settled. `remaining` is what
    /// claims may still take from this epoch; the payout commitment and totals are in `Settled`.
    struct Epoch {
        uint256 activationCommitment;
        uint256 influenceCommitment;
        uint256 payoutRoot;
        uint128 remaining;
        uint64 deadline;
        uint32 nPayees;
    }

    /// One leaf claimed against one epoch's payout tree (`siblings[i]` at height `i`).
    struct Claim {
        uint64 epoch;
        uint32 adapter;
        uint64 amount;
        uint32 index;
        uint256[20] siblings;
    }

    struct Override {
        address newOwner;
        uint64 eta;
    }

    mapping(uint64 => Epoch) public epochs;
    mapping(uint64 => mapping(uint32 => bool)) public claimedBy;
    /// keccak256(activation, influence) of every settled epoch.
    mapping(bytes32 => bool) public logsUsed;
    mapping(uint32 => address) public ownerOf;
    mapping(uint32 => address) public pendingOwnerOf;
    mapping(uint32 => Override) public ownerOverride;

    event ActivationRegistered(uint64 indexed epoch, uint256 commitment);
    event InfluenceRegistered(uint64 indexed epoch, uint256 commitment);
    event Settled(
        uint64 indexed epoch,
        uint256 payoutCommitment,
        uint256 payoutRoot,
        uint32 nPayees,
        uint256 paid,
        uint256 treasuryPaid,
        uint64 deadline
    );
    event Claimed(
        uint64 indexed epoch, uint32 indexed adapter, address indexed owner, address recipient, uint256 amount
    );
    event Swept(uint64 indexed epoch, address treasury, uint256 amount);
    event AdapterOwner(uint32 indexed adapter, address owner);
    event AdapterOwnerProposed(uint32 indexed adapter, address current, address proposed);
    event OwnerOverrideScheduled(uint32 indexed adapter, address newOwner, uint64 eta);
    event OwnerOverrideCancelled(uint32 indexed adapter);
    event RoleProposed(Role indexed role, address proposed);
    event RoleChanged(Role indexed role, address previous, address current);

    error NotAuthorized();
    error ZeroAddress();
    error EqualRoles();
    error NoCode(address account);
    error BadParameter();
    error AlreadyRegistered();
    error BadCommitment();
    error NotRegistered();
    error AlreadySettled();
    error LogsAlreadySettled();
    error InstanceMismatch(uint256 index);
    error ProofLength(uint256 got, uint256 expected);
    error ProofRejected();
    error PayoutOpeningMismatch();
    error ReceivedLess(uint256 received, uint256 expected);
    error NotSettled();
    error AlreadyClaimed();
    error ZeroAmount();
    error IndexBeyondPayees(uint256 index, uint256 nPayees);
    error BadPath();
    error NotAFieldElement();
    error ExceedsRemaining(uint256 amount, uint256 remaining);
    error ClaimWindowClosed(uint64 epoch);
    error ClaimWindowOpen(uint64 epoch);
    error NoClaims();
    error OwnerAlreadySet();
    error NoOwner();
    error NoPendingChange();
    error OverrideNotDue(uint64 eta);

    constructor(
        address admin,
        address verifier_,
        uint256 proofLength_,
        IERC20 token_,
        uint256 unit_,
        address[5] memory roles,
        uint16 rateBps_,
        uint64 claimWindow_,
        uint64 overrideDelay_
    ) {
        if (admin == address(0) || verifier_ == address(0) || address(token_) == address(0)) revert ZeroAddress();
        if (verifier_.code.length == 0) revert NoCode(verifier_);
        if (address(token_).code.length == 0) revert NoCode(address(token_));
        // unit <= 2^64 keeps (a u64 amount) * unit within the uint128 epoch balance.
        if (
            rateBps_ > 10000 || proofLength_ == 0 || unit_ == 0 || unit_ > (1 << 64) || claimWindow_ == 0
                || overrideDelay_ == 0
        ) revert BadParameter();
        for (uint256 i = 0; i < roles.length; i++) {
            if (roles[i] == address(0)) revert ZeroAddress();
            if (roles[i] == admin) revert EqualRoles();
            for (uint256 j = 0; j < i; j++) {
                if (roles[i] == roles[j]) revert EqualRoles();
            }
            roleHolder[Role(i)] = roles[i];
        }
        _transferOwnership(admin);
        verifier = verifier_;
        proofLength = proofLength_;
        token = token_;
        unit = unit_;
        rateBps = rateBps_;
        claimWindow = claimWindow_;
        overrideDelay = overrideDelay_;
    }

    // ---- roles ----

    /// The owner proposes `account` for `role`; it takes effect when `account` accepts.
    function proposeRole(Role role, address account) external onlyOwner {
        if (account == address(0)) revert ZeroAddress();
        if (_holdsRole(account) || account == owner()) revert EqualRoles();
        pendingRole[role] = account;
        emit RoleProposed(role, account);
    }

    /// The proposed account takes `role`.
    function acceptRole(Role role) external {
        if (msg.sender != pendingRole[role]) revert NotAuthorized();
        if (_holdsRole(msg.sender)) revert EqualRoles();
        emit RoleChanged(role, roleHolder[role], msg.sender);
        roleHolder[role] = msg.sender;
        delete pendingRole[role];
    }

    function _holdsRole(address account) private view returns (bool) {
        for (uint256 i = 0; i <= uint256(Role.Treasury); i++) {
            if (roleHolder[Role(i)] == account) return true;
        }
        return false;
    }

    /// Ownership only moves in two steps (`transferOwnership`, `acceptOwnership`); never to nobody.
    function renounceOwnership() public pure override {
        revert NotAuthorized();
    }

    /// The guardian (or the owner) stops registration, settlement and claims.
    function pause() external {
        if (msg.sender != roleHolder[Role.Guardian] && msg.sender != owner()) revert NotAuthorized();
        _pause();
    }

    /// Only the owner resumes.
    function unpause() external onlyOwner {
        _unpause();
    }

    // ---- adapter owners ----

    /// The registrar records an adapter's first owner; once set, only the paths below change it.
    function registerAdapter(uint32 adapter, address owner_) external {
        if (msg.sender != roleHolder[Role.Registrar]) revert NotAuthorized();
        if (owner_ == address(0)) revert ZeroAddress();
        if (ownerOf[adapter] != address(0)) revert OwnerAlreadySet();
        ownerOf[adapter] = owner_;
        emit AdapterOwner(adapter, owner_);
    }

    /// The adapter's owner proposes a successor, who must accept.
    function proposeAdapterOwner(uint32 adapter, address next) external {
        if (msg.sender != ownerOf[adapter]) revert NotAuthorized();
        if (next == address(0)) revert ZeroAddress();
        pendingOwnerOf[adapter] = next;
        emit AdapterOwnerProposed(adapter, msg.sender, next);
    }

    /// The proposed successor takes the adapter.
    function acceptAdapterOwner(uint32 adapter) external {
        if (msg.sender != pendingOwnerOf[adapter]) revert NotAuthorized();
        delete pendingOwnerOf[adapter];
        ownerOf[adapter] = msg.sender;
        emit AdapterOwner(adapter, msg.sender);
    }

    /// The registrar schedules a recovery (a lost key): executable after `overrideDelay`, public
    /// in the meantime so the current owner can claim or object.
    function scheduleOwnerOverride(uint32 adapter, address newOwner) external {
        if (msg.sender != roleHolder[Role.Registrar]) revert NotAuthorized();
        if (newOwner == address(0)) revert ZeroAddress();
        if (ownerOf[adapter] == address(0)) revert NoOwner();
        uint64 eta = uint64(block.timestamp) + overrideDelay;
        ownerOverride[adapter] = Override(newOwner, eta);
        emit OwnerOverrideScheduled(adapter, newOwner, eta);
    }

    /// The registrar or the adapter's current owner cancels a scheduled override.
    function cancelOwnerOverride(uint32 adapter) external {
        if (msg.sender != roleHolder[Role.Registrar] && msg.sender != ownerOf[adapter]) revert NotAuthorized();
        if (ownerOverride[adapter].newOwner == address(0)) revert NoPendingChange();
        delete ownerOverride[adapter];
        emit OwnerOverrideCancelled(adapter);
    }

    /// The registrar applies a scheduled override once it is due.
    function executeOwnerOverride(uint32 adapter) external {
        if (msg.sender != roleHolder[Role.Registrar]) revert NotAuthorized();
        Override memory o = ownerOverride[adapter];
        if (o.newOwner == address(0)) revert NoPendingChange();
        if (block.timestamp < o.eta) revert OverrideNotDue(o.eta);
        delete ownerOverride[adapter];
        delete pendingOwnerOf[adapter];
        ownerOf[adapter] = o.newOwner;
        emit AdapterOwner(adapter, o.newOwner);
    }

    // ---- epochs ----

    function registerActivation(uint64 epoch, uint256 commitment) external whenNotPaused {
        if (msg.sender != roleHolder[Role.Operator]) revert NotAuthorized();
        if (commitment == 0 || commitment >= Q) revert BadCommitment();
        Epoch storage e = epochs[epoch];
        if (e.activationCommitment != 0) revert AlreadyRegistered();
        e.activationCommitment = commitment;
        emit ActivationRegistered(epoch, commitment);
    }

    function registerInfluence(uint64 epoch, uint256 commitment) external whenNotPaused {
        if (msg.sender != roleHolder[Role.Engine]) revert NotAuthorized();
        if (commitment == 0 || commitment >= Q) revert BadCommitment();
        Epoch storage e = epochs[epoch];
        if (e.influenceCommitment != 0) revert AlreadyRegistered();
        e.influenceCommitment = commitment;
        emit InfluenceRegistered(epoch, commitment);
    }

    /// `instances` are SPEC's public inputs in order: epoch_id, rate_bps, activation_commitment,
    /// influence_commitment, n_queries, total_pool, total_paid, treasury, payout_commitment.
    /// `payoutRoot` and `nPayees` open the payout commitment (`H(3, root, n_payees)`).
    function settle(
        uint64 epoch,
        uint256[9] calldata instances,
        bytes calldata proof,
        uint256 payoutRoot,
        uint256 nPayees
    ) external whenNotPaused {
        Epoch storage e = epochs[epoch];
        if (e.payoutRoot != 0) revert AlreadySettled();
        uint256 activation = e.activationCommitment;
        uint256 influence = e.influenceCommitment;
        if (activation == 0 || influence == 0) revert NotRegistered();
        bytes32 logs = keccak256(abi.encode(activation, influence));
        if (logsUsed[logs]) revert LogsAlreadySettled();
        if (instances[0] != epoch) revert InstanceMismatch(0);
        if (instances[1] != rateBps) revert InstanceMismatch(1);
        if (instances[2] != activation) revert InstanceMismatch(2);
        if (instances[3] != influence) revert InstanceMismatch(3);
        // The circuit range-checks these to 64 bits; this makes the casts below exact.
        if (instances[6] > type(uint64).max) revert InstanceMismatch(6);
        if (instances[7] > type(uint64).max) revert InstanceMismatch(7);
        if (proof.length != proofLength) revert ProofLength(proof.length, proofLength);

        (bool ok,) = verifier.staticcall(abi.encodePacked(instances, proof));
        if (!ok) revert ProofRejected();
        // A zero root would read as "not settled"; no payout tree has one.
        if (
            payoutRoot == 0 || nPayees > (1 << PAYOUT_DEPTH)
                || PoseidonSponge.hash3(3, payoutRoot, nPayees) != instances[8]
        ) {
            revert PayoutOpeningMismatch();
        }

        logsUsed[logs] = true;
        _record(e, epoch, instances, payoutRoot, uint32(nPayees));
    }

    /// Stores the settled epoch, pulls `(total_paid + treasury) * unit` from the settler (checking
    /// what actually arrived), forwards the treasury share, and emits `Settled`.
    function _record(Epoch storage e, uint64 epoch, uint256[9] calldata instances, uint256 payoutRoot, uint32 nPayees)
        private
    {
        uint256 paid = instances[6] * unit;
        uint256 treasuryPaid = instances[7] * unit;
        uint64 deadline = uint64(block.timestamp) + claimWindow;
        e.payoutRoot = payoutRoot;
        e.remaining = uint128(paid);
        e.deadline = deadline;
        e.nPayees = nPayees;

        uint256 want = paid + treasuryPaid;
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), want);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != want) revert ReceivedLess(received, want);
        if (treasuryPaid != 0) token.safeTransfer(roleHolder[Role.Treasury], treasuryPaid);
        emit Settled(epoch, instances[8], payoutRoot, nPayees, paid, treasuryPaid, deadline);
    }

    /// Pays every claim in `claims` (any mix of epochs and adapters the caller owns) to
    /// `recipient`: each `H2(adapter, amount)` must be leaf `index` of its epoch's payout tree.
    function claim(Claim[] calldata claims, address recipient) external whenNotPaused {
        if (claims.length == 0) revert NoClaims();
        if (recipient == address(0)) revert ZeroAddress();
        uint256 total = 0;
        for (uint256 k = 0; k < claims.length; k++) {
            Claim calldata c = claims[k];
            if (ownerOf[c.adapter] != msg.sender) revert NotAuthorized();
            if (c.amount == 0) revert ZeroAmount();
            Epoch storage e = epochs[c.epoch];
            uint256 root = e.payoutRoot;
            if (root == 0) revert NotSettled();
            if (block.timestamp > e.deadline) revert ClaimWindowClosed(c.epoch);
            if (c.index >= e.nPayees) revert IndexBeyondPayees(c.index, e.nPayees);
            if (claimedBy[c.epoch][c.adapter]) revert AlreadyClaimed();
            for (uint256 i = 0; i < PAYOUT_DEPTH; i++) {
                if (c.siblings[i] >= Q) revert NotAFieldElement();
            }
            if (PoseidonSponge.pathRoot(c.adapter, c.amount, c.index, c.siblings) != root) revert BadPath();
            uint256 value = uint256(c.amount) * unit;
            uint256 remaining = e.remaining;
            if (value > remaining) revert ExceedsRemaining(value, remaining);
            e.remaining = uint128(remaining - value);
            claimedBy[c.epoch][c.adapter] = true;
            total += value;
            emit Claimed(c.epoch, c.adapter, msg.sender, recipient, value);
        }
        token.safeTransfer(recipient, total);
    }

    /// After an epoch's claim deadline the owner sends what is left of it to the treasury.
    function sweep(uint64 epoch) external onlyOwner {
        Epoch storage e = epochs[epoch];
        if (e.payoutRoot == 0) revert NotSettled();
        if (block.timestamp <= e.deadline) revert ClaimWindowOpen(epoch);
        uint256 amount = e.remaining;
        e.remaining = 0;
        address treasury = roleHolder[Role.Treasury];
        if (amount != 0) token.safeTransfer(treasury, amount);
        emit Swept(epoch, treasury, amount);
    }
}
