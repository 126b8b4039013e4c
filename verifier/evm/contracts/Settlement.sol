// SPDX-License-Identifier: MIT
pragma solidity 0.8.19;

import "./PoseidonSponge.sol";

interface IERC20 {
    function transfer(address to, uint256 value) external returns (bool);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

/// circomlib's Poseidon contract (circomlibjs `poseidonContract.createCode(2)`): SPEC's `H2`.
interface IPoseidon2 {
    function poseidon(uint256[2] memory inputs) external pure returns (uint256);
}

/// On-chain settlement of zkattr epochs (SPEC v1, BN254/halo2 backend).
///
/// Roles, fixed at deployment: `operator` registers each epoch's activation commitment,
/// `engine` its influence commitment, `registrar` keeps the adapter -> owner registry (an owner
/// may hand its adapter on). Anyone may settle an epoch once both commitments are registered: the
/// settler pays `total_paid` tokens in, so the contract can always pay every claim. Anyone may
/// submit a claim; the tokens go to the adapter's registered owner, once per adapter per epoch.
contract Settlement {
    uint256 internal constant Q = 0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001;
    uint256 public constant PAYOUT_DEPTH = 20;

    address public immutable verifier;
    IPoseidon2 public immutable poseidon2;
    IERC20 public immutable token;
    address public immutable operator;
    address public immutable engine;
    address public immutable registrar;
    uint16 public immutable rateBps;

    /// One storage slot per value, and settle writes only `payoutRoot` (non-zero once settled):
    /// each fresh slot costs 22,100 gas, so the payout commitment and total are in the
    /// `Settled` event rather than in storage.
    struct Epoch {
        uint256 activationCommitment;
        uint256 influenceCommitment;
        uint256 payoutRoot;
    }

    mapping(uint64 => Epoch) public epochs;
    mapping(uint64 => mapping(uint32 => bool)) public claimedBy;
    mapping(uint32 => address) public ownerOf;

    event ActivationRegistered(uint64 indexed epoch, uint256 commitment);
    event InfluenceRegistered(uint64 indexed epoch, uint256 commitment);
    event Settled(uint64 indexed epoch, uint256 payoutCommitment, uint256 payoutRoot, uint64 totalPaid);
    event Claimed(uint64 indexed epoch, uint32 indexed adapter, address owner, uint64 amount);
    event AdapterOwner(uint32 indexed adapter, address owner);

    error NotAuthorized();
    error AlreadyRegistered();
    error BadCommitment();
    error NotRegistered();
    error AlreadySettled();
    error InstanceMismatch(uint256 index);
    error ProofRejected();
    error PayoutOpeningMismatch();
    error NotSettled();
    error AlreadyClaimed();
    error BadPath();
    error NoOwner();
    error TransferFailed();

    constructor(
        address verifier_,
        IPoseidon2 poseidon2_,
        IERC20 token_,
        address operator_,
        address engine_,
        address registrar_,
        uint16 rateBps_
    ) {
        require(rateBps_ <= 10000, "rate_bps > 10000");
        verifier = verifier_;
        poseidon2 = poseidon2_;
        token = token_;
        operator = operator_;
        engine = engine_;
        registrar = registrar_;
        rateBps = rateBps_;
    }

    function setAdapterOwner(uint32 adapter, address owner) external {
        address current = ownerOf[adapter];
        if (msg.sender != registrar && (current == address(0) || msg.sender != current)) {
            revert NotAuthorized();
        }
        ownerOf[adapter] = owner;
        emit AdapterOwner(adapter, owner);
    }

    function registerActivation(uint64 epoch, uint256 commitment) external {
        if (msg.sender != operator) revert NotAuthorized();
        if (commitment == 0 || commitment >= Q) revert BadCommitment();
        Epoch storage e = epochs[epoch];
        if (e.activationCommitment != 0) revert AlreadyRegistered();
        e.activationCommitment = commitment;
        emit ActivationRegistered(epoch, commitment);
    }

    function registerInfluence(uint64 epoch, uint256 commitment) external {
        if (msg.sender != engine) revert NotAuthorized();
        if (commitment == 0 || commitment >= Q) revert BadCommitment();
        Epoch storage e = epochs[epoch];
        if (e.influenceCommitment != 0) revert AlreadyRegistered();
        e.influenceCommitment = commitment;
        emit InfluenceRegistered(epoch, commitment);
    }

    /// `instances` are SPEC's public inputs in order: epoch_id, rate_bps, activation_commitment,
    /// influence_commitment, n_queries, total_pool, total_paid, treasury, payout_commitment.
    /// `payoutRoot` and `nPayees` open the payout commitment (`H(3, root, n_payees)`), so claims
    /// only need the circomlib `H2` path to the root.
    function settle(
        uint64 epoch,
        uint256[9] calldata instances,
        bytes calldata proof,
        uint256 payoutRoot,
        uint256 nPayees
    ) external {
        Epoch storage e = epochs[epoch];
        if (e.payoutRoot != 0) revert AlreadySettled();
        if (e.activationCommitment == 0 || e.influenceCommitment == 0) revert NotRegistered();
        if (instances[0] != epoch) revert InstanceMismatch(0);
        if (instances[1] != rateBps) revert InstanceMismatch(1);
        if (instances[2] != e.activationCommitment) revert InstanceMismatch(2);
        if (instances[3] != e.influenceCommitment) revert InstanceMismatch(3);
        // The circuit range-checks total_paid to 64 bits; this makes the cast below exact.
        if (instances[6] > type(uint64).max) revert InstanceMismatch(6);

        (bool ok,) = verifier.staticcall(abi.encodePacked(instances, proof));
        if (!ok) revert ProofRejected();
        // A zero root would read as "not settled"; no payout tree has one.
        if (payoutRoot == 0 || PoseidonSponge.hash3(3, payoutRoot, nPayees) != instances[8]) {
            revert PayoutOpeningMismatch();
        }

        uint64 totalPaid = uint64(instances[6]);
        e.payoutRoot = payoutRoot;
        if (!token.transferFrom(msg.sender, address(this), totalPaid)) revert TransferFailed();
        emit Settled(epoch, instances[8], payoutRoot, totalPaid);
    }

    /// Pays `amount` to the owner of `adapter` if `H2(adapter, amount)` is leaf `index` of the
    /// epoch's payout tree; `siblings[i]` is the sibling at height `i` (leaf level first).
    function claim(
        uint64 epoch,
        uint32 adapter,
        uint64 amount,
        uint32 index,
        uint256[20] calldata siblings
    ) external {
        uint256 root = epochs[epoch].payoutRoot;
        if (root == 0) revert NotSettled();
        if (claimedBy[epoch][adapter]) revert AlreadyClaimed();
        address owner = ownerOf[adapter];
        if (owner == address(0)) revert NoOwner();
        if (index >= (1 << PAYOUT_DEPTH)) revert BadPath();

        uint256 node = poseidon2.poseidon([uint256(adapter), uint256(amount)]);
        uint256 position = index;
        for (uint256 i = 0; i < PAYOUT_DEPTH; i++) {
            node = (position & 1) == 0
                ? poseidon2.poseidon([node, siblings[i]])
                : poseidon2.poseidon([siblings[i], node]);
            position >>= 1;
        }
        if (node != root) revert BadPath();

        claimedBy[epoch][adapter] = true;
        if (!token.transfer(owner, amount)) revert TransferFailed();
        emit Claimed(epoch, adapter, owner, amount);
    }
}
